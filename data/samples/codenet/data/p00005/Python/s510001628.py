import sys


def count_primes(limit):
    if limit < 2:
        return 0
    flags = bytearray([1]) * (limit + 1)
    flags[0] = flags[1] = 0
    for p in range(2, int(limit ** 0.5) + 1):
        if flags[p]:
            flags[p * p :: p] = bytearray(len(range(p * p, limit + 1, p)))
    return sum(flags)


print(count_primes(int(sys.stdin.readline())))
