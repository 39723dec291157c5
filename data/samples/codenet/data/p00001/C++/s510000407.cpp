#include <iostream>
using namespace std;

int main() {
    long long x, y;
    cin >> x >> y;
    long long sum = x + y;
    cout << sum << endl;
    return 0;
}
