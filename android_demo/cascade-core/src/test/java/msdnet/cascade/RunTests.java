package msdnet.cascade;

import java.util.ArrayList;
import java.util.List;
import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs the JUnit 4 test classes named on the command line (what test.sh does without
 * Gradle) and prints one line per test, skipped tests with their reason, and a summary.
 * Exit status 1 if any test failed.
 */
public final class RunTests {
    private RunTests() {
    }

    public static void main(String[] args) throws ClassNotFoundException {
        List<Class<?>> classes = new ArrayList<>();
        for (String name : args) {
            classes.add(Class.forName(name));
        }
        JUnitCore core = new JUnitCore();
        int[] skipped = {0};
        core.addListener(new RunListener() {
            @Override
            public void testFailure(Failure failure) {
                System.out.println("FAIL " + failure.getDescription().getDisplayName() + "\n  "
                        + failure.getTrace().replace("\n", "\n  "));
            }

            @Override
            public void testAssumptionFailure(Failure failure) {
                skipped[0]++;
                System.out.println("SKIP " + failure.getDescription().getDisplayName() + ": "
                        + failure.getMessage());
            }

            @Override
            public void testIgnored(Description description) {
                skipped[0]++;
                System.out.println("SKIP " + description.getDisplayName() + " (@Ignore)");
            }
        });
        Result result = core.run(classes.toArray(new Class<?>[0]));
        int failed = result.getFailureCount();
        System.out.printf("cascade-core: %d tests, %d passed, %d failed, %d skipped (%.1f s)%n",
                result.getRunCount() + result.getIgnoreCount(),
                result.getRunCount() - failed - result.getAssumptionFailureCount(), failed,
                skipped[0], result.getRunTime() / 1000.0);
        System.exit(failed == 0 ? 0 : 1);
    }
}
