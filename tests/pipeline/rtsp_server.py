"""A real RTSP server for the network-source tests: GStreamer's RTSP server (gst-rtsp-server) serving
an H.264 MP4 file at ``rtsp://127.0.0.1:<port>/live`` in real time, as an IP camera would.

Run with a Python that has PyGObject and the GstRtspServer typelib (Debian: ``python3-gi
gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good``), usually the system ``/usr/bin/python3``,
not vidlab's virtual environment::

    /usr/bin/python3 tests/pipeline/rtsp_server.py clip.mp4 8554

Prints ``ready`` once it listens. ``--check`` only checks that the modules load.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0)
    path, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    # The file's H.264 stream as RTP, SPS/PPS repeated every second so a late client can start.
    factory.set_launch(
        f"( filesrc location={path} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 "
        "config-interval=1 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()
