#include <bits/stdc++.h>
using namespace std;
typedef long long ll;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    ll p, q;
    cin >> p >> q;
    cout << p + q << '\n';
}
