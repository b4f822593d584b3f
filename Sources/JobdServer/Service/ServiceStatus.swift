import JobdProtocol
import JobdRunners

/// The one line `systemctl status jobd` shows (`STATUS=`): "3 running (2 cpu, 1 io), 120 queued, 4,210 done".
/// A pure function of the dispatcher's kept counts and the pool's, so it costs no database read.
enum ServiceStatus {
    static func text(_ snapshot: Dispatcher.Snapshot, pool: PoolStatus) -> String {
        let cpu = (snapshot.counts[.cpu] ?? StateCounts()).executing(in: pool)
        let io = snapshot.counts[.io] ?? StateCounts()
        let running = cpu.running + io.running
        let queued = cpu.queued + io.queued + cpu.scheduled + io.scheduled
        let done = JobState.allCases.filter(\.isFinished).reduce(0) { $0 + cpu[$1] + io[$1] }
        return "\(grouped(running)) running (\(grouped(cpu.running)) cpu, \(grouped(io.running)) io), "
            + "\(grouped(queued)) queued, \(grouped(done)) done"
    }

    /// 4210 as "4,210": readable in `systemctl status`, and independent of the locale.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }
}
