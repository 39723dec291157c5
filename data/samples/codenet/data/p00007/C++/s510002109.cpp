#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <string>
using namespace std;

int main() {
    map<string, int> freq;
    string token;
    while (cin >> token) {
        transform(token.begin(), token.end(), token.begin(), ::tolower);
        freq[token]++;
    }
    string answer;
    int most = 0;
    for (auto &entry : freq) {
        if (entry.second > most) {
            most = entry.second;
            answer = entry.first;
        }
    }
    cout << answer << " " << most << endl;
}
