#include <bits/stdc++.h>
using namespace std;

int main() {
    int n;
    scanf("%d", &n);
    vector<long long> arr(n);
    for (auto &x : arr) scanf("%lld", &x);
    long long run = arr[0], top = arr[0];
    for (int i = 1; i < n; ++i) {
        run = max(arr[i], run + arr[i]);
        top = max(top, run);
    }
    printf("%lld\n", top);
    return 0;
}
