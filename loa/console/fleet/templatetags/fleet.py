"""{% fleet_nav as fleet %}: whether the menu shows the province / commune pages."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def fleet_nav(context) -> bool:
    request = context.get("request")
    if request is None:
        return False
    cached = getattr(request, "_loa_fleet_nav", None)
    if cached is None:
        from loa.console.fleet.service import stations_for

        cached = stations_for(getattr(request, "user", None)).exists()
        request._loa_fleet_nav = cached
    return cached
