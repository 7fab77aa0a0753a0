"""Prints, as Redis protocol for `redis-cli --pipe`, the SETs of the same N keys and 100-byte
values fill_kvs.py stores in switchyard: the reference for the store's memory.

usage: fill_redis.py N | redis-cli -p PORT --pipe
"""

import sys

VALUE = b"v" * 100


def main() -> None:
    total = int(sys.argv[1])
    out = sys.stdout.buffer
    for i in range(total):
        key = b"key%d" % i
        out.write(
            b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(VALUE), VALUE)
        )


if __name__ == "__main__":
    main()
