"""Running the platform: the ``serve`` command and the HTTP server's connection limits.

Above the app (it builds it and, with ``--demo``, seeds the demo scenario); nothing imports it
but the command line.
"""
