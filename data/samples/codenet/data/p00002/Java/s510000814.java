import java.io.*;

public class Main {
    public static void main(String[] args) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in));
        int limit = Integer.parseInt(reader.readLine().trim());
        StringBuilder out = new StringBuilder();
        for (int value = 1; value <= limit; value++) {
            boolean three = value % 3 == 0;
            boolean five = value % 5 == 0;
            if (three && five) out.append("FizzBuzz");
            else if (three) out.append("Fizz");
            else if (five) out.append("Buzz");
            else out.append(value);
            out.append('\n');
        }
        System.out.print(out);
    }
}
