# read both numbers from one line
line = input()
parts = line.split()

total = 0
for p in parts:
    total += int(p)
    print(total)

# done
