"""Stores N keys with 100-byte values in a switchyard main over one pipelined connection.

usage: fill_kvs.py HOST:PORT N
Exits non-zero unless every PUT answered 201.
"""

import socket
import sys

# Small enough that a batch's requests and answers fit in loopback's socket buffers: the batch
# is written whole before any answer is read. (With 2000 a run once ended in the server closing
# the connection, as its client timeout does when neither side can write.)
BATCH = 250
BODY = b"val=" + b"v" * 100


def put_request(i: int) -> bytes:
    return (
        b"PUT /kvs/key%d HTTP/1.1\r\nHost: bench\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (i, len(BODY), BODY)
    )


def main() -> None:
    host, port = sys.argv[1].rsplit(":", 1)
    total = int(sys.argv[2])
    conn = socket.create_connection((host, int(port)), timeout=30)
    done = 0
    while done < total:
        count = min(BATCH, total - done)
        conn.sendall(b"".join(put_request(i) for i in range(done, done + count)))
        answers = b""
        # Every answer ends with its JSON body's closing brace.
        while answers.count(b"HTTP/1.1 ") < count or not answers.endswith(b"}"):
            chunk = conn.recv(1 << 20)
            if not chunk:
                sys.exit("connection closed by the server")
            answers += chunk
        created = answers.count(b"HTTP/1.1 201")
        if created != count:
            sys.exit(f"batch at {done}: {created} of {count} PUTs answered 201")
        done += count


if __name__ == "__main__":
    main()
