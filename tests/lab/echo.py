"""The upstream host's echo service: answers each TCP connection with the source address it sees, then closes."""

import socket
import sys

address, port = sys.argv[1], int(sys.argv[2])
server = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((address, port))
server.listen(128)
while True:
    conn, peer = server.accept()
    with conn:
        conn.sendall(f"{peer[0]}\n".encode())
