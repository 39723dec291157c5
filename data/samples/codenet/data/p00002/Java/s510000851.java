import java.io.*;

public class Main {
    static String label(int value) {
        if (value % 15 == 0) return "FizzBuzz";
        if (value % 3 == 0) return "Fizz";
        if (value % 5 == 0) return "Buzz";
        return String.valueOf(value)
    }

    public static void main(String[] args) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in));
        int limit = Integer.parseInt(reader.readLine().trim());
        StringBuilder out = new StringBuilder();
        for (int value = 1; value <= limit; value++) {
            out.append(label(value)).append('\n');
        }
        System.out.print(out);
    }
}
