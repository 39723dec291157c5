import java.util.*;

public class Main {
    static long euclid(long p, long q) {
        return q == 0 ? p : euclid(q, p % q);
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        long p = input.nextLong();
        long q = input.nextLong();
        long d = euclid(p, q);
        System.out.println(d + "\n" + (p * q / d));
    }
}
