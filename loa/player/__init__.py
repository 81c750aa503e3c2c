"""Stage 6: the unattended player (APScheduler daemon, sinks)."""

from loa.player.daemon import Daemon
from loa.player.playout import Played, Player
from loa.player.sinks import Sink, SinkError, SoundDeviceSink, WavDirSink, output_devices

__all__ = ["Daemon", "Played", "Player", "Sink", "SinkError", "SoundDeviceSink", "WavDirSink",
           "output_devices"]
