import sys

data = sys.stdin.buffer.read().split()
length = int(data[0])
numbers = data[1:1 + length]

prefix = 0
lowest = 0
answer = 0
for token in numbers:
    prefix += int(token)
    answer = max(answer, prefix - lowest)
    lowest = min(lowest, prefix)

sys.stdout.write(f"{answer}\n")
