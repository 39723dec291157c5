PAIRS = {")": "(", "]": "[", "}": "{"}


def balanced(text):
    stack = []
    for c in text:
        if c in "([{":
            stack.append(c)
        elif stack and stack[-1] == PAIRS[c]:
            stack.pop()
    return not stack


print("YES" if balanced(input().strip()) else "NO")
