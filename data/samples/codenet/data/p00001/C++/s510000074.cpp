#include <iostream>
using namespace std;

int main() {
    long long a, b;
    cin >> a >> b;
    long long sum = a + b;
    cout << sum << endl;
    return 0;
}
