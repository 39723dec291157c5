def max_subarray(values):
    best = values[0]
    current = values[0]
    for v in values[1:]:
        current = max(v, current + v)
        best = max(best, current)
    return best


n = int(input())
a = list(map(int, input().split()))
print(max_subarray(a[:n]))
