#include <iostream>
#include <stack>
#include <string>
using namespace std;

char partner(char close) {
    if (close == ')') return '(';
    if (close == ']') return '[';
    return '{';
}

int main() {
    string brackets;
    getline(cin, brackets);
    stack<char> st;
    bool good = true;
    for (char b : brackets) {
        if (b == '(' || b == '[' || b == '{') {
            st.push(b);
        } else {
            if (st.empty()) {
                good = false;
                break;
            }
            char top = st.top();
            st.pop();
            if (top != partner(b)) good = false;
        }
    }
    if (!st.empty()) good = false;
    cout << (good ? "YES" : "NO") << "\n";
}
