#include <bits/stdc++.h>
using namespace std;

bool check(const string &t) {
    int n = t.size();
    for (int k = 0; k < n / 2; k++) {
        if (t[k] != t[n - 1 - k]) return false;
    }
    return true;
}

int main() {
    string t;
    cin >> t;
    puts(check(t) ? "Yes" : "No");
}
