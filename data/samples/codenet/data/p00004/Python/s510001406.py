import math
import sys


def solve(x, y):
    common = math.gcd(x, y)
    return common, x // common * y


def main():
    x, y = map(int, sys.stdin.read().split())
    print(*solve(x, y))


main()
