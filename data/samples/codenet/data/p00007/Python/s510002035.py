import sys
from collections import Counter


def main():
    words = sys.stdin.read().split()
    counts = Counter(w.lower() for w in words)
    best = max(counts.values())
    word = min(w for w, c in counts.items() if c == best)
    print(word, best)


main()
