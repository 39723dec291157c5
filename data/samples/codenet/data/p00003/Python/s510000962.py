s = input().strip().lower()
if s == s[::-1]:
    print("Yes")
else:
    print("No")
