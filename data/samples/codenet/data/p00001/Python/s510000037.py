import sys


def main():
    a = int(input())
    b = int(input())
    print(a + b)


if __name__ == "__main__":
    main()
