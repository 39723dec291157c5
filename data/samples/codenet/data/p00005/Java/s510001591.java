import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        int n = new Scanner(System.in).nextInt();
        int primes = 0;
        for (int k = 2; k <= n; k++) {
            boolean prime = true;
            for (int d = 2; d < k; d++) {
                if (k % d == 0) prime = false;
            }
            if (prime) primes++;
        }
        System.out.println(primes);
    }
}
