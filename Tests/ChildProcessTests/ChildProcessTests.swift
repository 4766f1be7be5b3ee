import ChildProcess
import Foundation
import Testing

@Suite struct ChildProcessTests {
    @Test func aLargeInputComesBackWhole() throws {
        // 8 MiB both ways: far more than a pipe holds, so a runner that wrote all input before
        // reading any output would deadlock.
        let input = Data((0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let outcome = try ChildProcess(["cat"]).run(input: input)
        #expect(outcome.succeeded)
        #expect(outcome.stdout == input)
    }

    @Test func aChattyStderrDoesNotStallStdout() throws {
        let outcome = try ChildProcess(["sh", "-c", "head -c 4000000 /dev/zero >&2; echo done; exit 3"]).run()
        #expect(outcome.status == 3 && !outcome.succeeded)
        #expect(outcome.stderr.count == 4_000_000)
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "done\n")
    }

    @Test func aHungCommandIsKilledAtItsDeadline() throws {
        let outcome = try ChildProcess(["sleep", "600"], timeout: .milliseconds(200)).run()
        #expect(outcome.timedOut)
        #expect(outcome.exitedBySignal && outcome.status == SIGKILL)
        #expect(!outcome.succeeded)
    }

    @Test func aChildThatIgnoresItsInputStillReports() throws {
        // It exits without reading: our write fails with EPIPE, which must not end the test process.
        let outcome = try ChildProcess(["sh", "-c", "echo early >&2; exit 1"]).run(input: Data(count: 1 << 20))
        #expect(outcome.status == 1)
        #expect(outcome.stderrText == "early\n")
    }

    @Test func theEnvironmentIsTheOneGiven() throws {
        let outcome = try ChildProcess(["/bin/sh", "-c", "echo $GREETING"], environment: ["GREETING": "hello", "PATH": "/usr/bin:/bin"]).run()
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "hello\n")
    }

    @Test func aMissingCommandIsAnError() {
        #expect(throws: (any Error).self) { try ChildProcess(["/nonexistent/command"]).run() }
    }
}
