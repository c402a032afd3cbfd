"""The HTTP receiver: report schema, validation, the writer thread and the server.

Qt-free, so it runs inside the GUI's background thread and headless as `hindsight serve`.
"""
