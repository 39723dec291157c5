# brute force: try every divisor, then walk multiples of a
a, b = map(int, input().split())
g = 1
for d in range(1, min(a, b) + 1):
    if a % d == 0 and b % d == 0:
        g = d
l = a
while l % b != 0:
    l += a
print(g, l)
