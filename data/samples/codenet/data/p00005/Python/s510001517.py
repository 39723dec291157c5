import sys


def count_primes(limit):
    if limit < 2:
        return 0
    flags = [True] * (limit + 1)
    flags[0] = flags[1] = False
    for p in range(2, limit + 1):
        if flags[p]:
            for multiple in range(p * p, limit + 1, p):
                flags[multiple] = False
    return sum(flags)


print(count_primes(int(sys.stdin.readline())))
