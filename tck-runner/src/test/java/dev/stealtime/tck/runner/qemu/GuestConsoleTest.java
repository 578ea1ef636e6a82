package dev.stealtime.tck.runner.qemu;

import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The TCK's side of the test guest's serial protocol, against a scripted guest on a pipe (no QEMU, no
 * KVM): boot noise before {@code ready} is skipped, a guest that hangs ends every wait at its
 * deadline with what was awaited, a panic and a QEMU that went away are said as such, and a request
 * goes out as one line.
 */
public class GuestConsoleTest {

    private PipedOutputStream guest;
    private ByteArrayOutputStream requests;
    private GuestConsole console;

    @BeforeMethod
    public void connect() throws IOException {
        guest = new PipedOutputStream();
        requests = new ByteArrayOutputStream();
        console = new GuestConsole(new PipedInputStream(guest, 1 << 16), requests, "scripted");
    }

    @AfterMethod(alwaysRun = true)
    public void disconnect() throws IOException {
        guest.close();
    }

    private void guestSays(String text) throws IOException {
        guest.write(text.getBytes(StandardCharsets.US_ASCII));
        guest.flush();
    }

    @Test
    public void bootNoiseBeforeReadyIsSkippedAndAnAnswerIsTheNextLine() throws IOException {
        guestSays("SeaBIOS (version 1.16)\r\n\r\nBooting from ROM...\nready tck-guest x86_64 vcpus=2\n");
        console.awaitReady(Duration.ofSeconds(5));
        guestSays("ok elapsed=1000\n");
        assertThat(console.ask("run 1000", Duration.ofSeconds(5))).isEqualTo("ok elapsed=1000");
        assertThat(requests.toString(StandardCharsets.US_ASCII)).isEqualTo("run 1000\n");
    }

    @Test
    public void aGuestThatHangsEndsTheWaitAtItsDeadlineSayingWhatWasAwaited() throws IOException {
        guestSays("ready tck-guest x86_64 vcpus=1\n");
        console.awaitReady(Duration.ofSeconds(5));
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> console.ask("idle 5000000", Duration.ofMillis(300)))
                .isInstanceOf(IOException.class).hasMessage("the test guest did not send the answer to 'idle 5000000' in time");
        long waited = (System.nanoTime() - t0) / 1_000_000;
        assertThat(waited).as("waited %d ms for a 300 ms deadline", waited).isBetween(250L, 5_000L);
    }

    @Test
    public void aGuestThatNeverBootsIsSaid() {
        assertThatThrownBy(() -> console.awaitReady(Duration.ofMillis(200)))
                .isInstanceOf(IOException.class).hasMessageContaining("did not send ready tck-guest x86_64 in time");
    }

    @Test
    public void aPanicIsReportedWithTheGuestsOwnLine() throws IOException {
        guestSays("ready tck-guest x86_64 vcpus=1\n");
        console.awaitReady(Duration.ofSeconds(5));
        guestSays("panic: #GP at rip=0x100234 error=0\n");
        assertThatThrownBy(() -> console.ask("rdmsr 0x4b564d03", Duration.ofSeconds(5)))
                .isInstanceOf(IOException.class)
                .hasMessage("the test guest panicked (expected the answer to 'rdmsr 0x4b564d03'): panic: #GP at rip=0x100234 error=0");
    }

    @Test
    public void qemuGoingAwayIsSaidAtOnceAndAgainOnTheNextRequest() throws IOException {
        guestSays("ready tck-guest x86_64 vcpus=1\n");
        console.awaitReady(Duration.ofSeconds(5));
        guest.close();
        assertThatThrownBy(() -> console.ask("hello", Duration.ofSeconds(30)))
                .isInstanceOf(IOException.class).hasMessage("QEMU closed the serial port before sending the answer to 'hello'");
        assertThatThrownBy(() -> console.answer("hello", Duration.ofSeconds(30)))
                .as("the end of the stream stays: a second wait does not hang for its deadline")
                .isInstanceOf(IOException.class).hasMessageContaining("QEMU closed the serial port");
    }
}
