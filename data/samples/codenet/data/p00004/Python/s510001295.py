# 最大公約数と最小公倍数
def gcd(a, b):
    if b == 0:
        return a
    return gcd(b, a % b)


a, b = map(int, input().split())
g = gcd(a, b)
print(g, a * b // g)
