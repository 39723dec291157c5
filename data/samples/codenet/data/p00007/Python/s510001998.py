import sys
from collections import Counter


def main():
    words = sys.stdin.read().split()
    counts = Counter(w.lower() for w in words)
    word, freq = counts.most_common(1)[0]
    print(word, freq)


main()
