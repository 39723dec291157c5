def max_subarray(values):
    best = 0
    current = 0
    for v in values:
        current = max(0, current + v)
        best = max(best, current)
    return best


n = int(input())
a = list(map(int, input().split()))
print(max_subarray(a[:n]))
