"""Known socket calls for `synfin watch`'s call tracing test (tests/live_calls.rs).

A server thread and a client, both in this process (threads: each call's thread id differs
from the pid), on 127.0.0.1:PORT; then a refused connect() to REFUSED and a bind() that fails
with EADDRINUSE. Prints one line per fact the test checks: `pid N`, `server TID`, `client TID`,
`client-port P`.
"""
import socket
import sys
import threading

PORT = int(sys.argv[1])
REFUSED = int(sys.argv[2])

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", PORT))
ls.listen(5)
ready = threading.Event()
tids = {}


def serve():
    tids["server"] = threading.get_native_id()
    ready.set()
    conn, _ = ls.accept()
    data = conn.recv(100)
    conn.send(data.upper())
    while conn.recv(100):
        pass
    conn.close()


t = threading.Thread(target=serve)
t.start()
ready.wait()
c = socket.socket()
c.connect(("127.0.0.1", PORT))
port = c.getsockname()[1]
c.send(b"hello")
c.recv(100)
c.shutdown(socket.SHUT_WR)
c.recv(100)
c.close()
t.join()
r = socket.socket()
try:
    r.connect(("127.0.0.1", REFUSED))
except ConnectionRefusedError:
    pass
r.close()
b = socket.socket()
try:
    b.bind(("127.0.0.1", PORT))
    b.listen(1)
except OSError:
    pass
b.close()
ls.close()
print("pid", threading.get_native_id() and __import__("os").getpid())
print("server", tids["server"])
print("client", threading.get_native_id())
print("client-port", port)
sys.stdout.flush()
