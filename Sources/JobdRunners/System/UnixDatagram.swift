import CJobdSystem

/// One-shot datagrams to a Unix socket: what systemd's notify protocol needs (sd_notify(3)).
public enum UnixDatagram {
    /// Sends `message` as one datagram to `address`, a socket path or an abstract address written with a
    /// leading `@`. Never blocks for long: a datagram to a Unix socket either fits or fails.
    /// The corresponding C function is `sendto`.
    /// - Returns: nil when sent, else what failed.
    public static func send(_ message: String, to address: String) -> SystemError? {
        var bytes = Array(message.utf8)
        let error = address.withCString { address in
            bytes.withUnsafeMutableBytes { jobd_notify_send(address, $0.baseAddress, $0.count) }
        }
        return error == 0 ? nil : SystemError("cannot send to \(address): \(errnoText(error))")
    }
}
