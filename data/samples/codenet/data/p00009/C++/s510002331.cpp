#include <bits/stdc++.h>
using namespace std;

int main() {
    int n;
    scanf("%d", &n);
    vector<int> arr(n);
    for (auto &x : arr) scanf("%d", &x);
    int run = arr[0], top = arr[0];
    for (int i = 1; i < n; ++i) {
        run = max(arr[i], run + arr[i]);
        top = max(top, run);
    }
    printf("%d\n", top);
    return 0;
}
