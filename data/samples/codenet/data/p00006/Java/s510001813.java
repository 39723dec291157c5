import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        String line = new Scanner(System.in).nextLine().trim();
        Deque<Character> open = new ArrayDeque<>();
        boolean balanced = true;
        for (char ch : line.toCharArray()) {
            if (ch == '(' || ch == '[' || ch == '{') {
                open.push(ch);
            } else {
                char expected = ch == ')' ? '(' : ch == ']' ? '[' : '{';
                if (open.isEmpty() || open.pop() != expected) {
                    balanced = false;
                    break;
                }
            }
        }
        if (!open.isEmpty()) {
            balanced = false;
        }
        System.out.println(balanced ? "YES" : "NO");
    }
}
