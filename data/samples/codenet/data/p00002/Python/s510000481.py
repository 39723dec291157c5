def label(k):
    text = ""
    if k % 3 == 0:
        text += "Fizz"
    if k % 5 == 0:
        text += "Buzz"
    return text or str(k)


count = int(input())
lines = [label(k) for k in range(1, count)]
print("\n".join(lines))
