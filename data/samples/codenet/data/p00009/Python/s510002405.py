import sys

data = sys.stdin.buffer.read().split()
length = int(data[0])
numbers = data[1:1 + length]

prefix = 0
lowest = 0
answer = None
for token in numbers:
    prefix += int(token)
    candidate = prefix - lowest
    if answer is None or candidate > answer:
        answer = candidate
    lowest = min(lowest, prefix)

sys.stdout.write(f"{answer}\n")
