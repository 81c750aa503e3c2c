"""The console's pages: one views module per page, over loa.station."""
