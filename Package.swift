// swift-tools-version:6.0
// Targets are listed in the order a job travels (see ../shared/STYLE.md §2):
// client -> protocol -> server -> store -> scheduler -> runners -> handlers.
import PackageDescription

let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "jobd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jobd", targets: ["jobd"]),
        .executable(name: "jobctl", targets: ["jobctl"]),
        .library(name: "JobdServer", targets: ["JobdServer"]),
        .library(name: "JobdClient", targets: ["JobdClient"]),
        .library(name: "JobdVarlinkNIO", targets: ["JobdVarlinkNIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // MARK: - Executables (thin)
        .executableTarget(
            name: "jobctl",
            dependencies: [
                "JobdClient", "JobdProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings,
            // A fully static release jobctl: no dynamic loader, no libstdc++/libm/libgcc_s to map, and no
            // PIE, so none of the ~39,000 relative relocations of the PIE binary (every one a write to a
            // page that is then copied). `jobctl status` went from 2.7 to 1.8 ms of CPU (issue 12).
            // glibc warns that its user and group lookups (getpwnam_r & co., linked in through
            // FoundationEssentials) need the same glibc at run time: jobctl calls none of them.
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(platforms: [.linux], configuration: .release))]
        ),
        .executableTarget(
            name: "jobd",
            dependencies: [
                "JobdServer", "JobdStore", "JobdRunners", "JobdHandlers", "JobdProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Client side
        // A blocking connection and no NIO: jobctl starts in a few ms because its binary is small (Swift
        // scans every protocol conformance in the binary at its first dynamic cast).
        .target(name: "JobdClient", dependencies: ["JobdProtocol"], swiftSettings: swiftSettings),
        // The varlink wire on SwiftNIO: the NUL-frame decoder the daemon's listener uses, and the async
        // connection for code that holds many connections at once (tests, benchmarks).
        .target(
            name: "JobdVarlinkNIO",
            dependencies: [
                "JobdProtocol", "JobdClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Shared wire types (stdlib and FoundationEssentials only)
        .target(name: "JobdProtocol", swiftSettings: swiftSettings),

        // MARK: - Daemon
        .target(
            name: "JobdServer",
            dependencies: [
                "JobdProtocol", "JobdVarlinkNIO", "JobdStore", "JobdScheduler", "JobdRunners", "JobdHandlers",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JobdStore",
            dependencies: [
                "JobdProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedMigrations"]
        ),
        .target(
            name: "JobdScheduler",
            dependencies: [
                "JobdProtocol",
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JobdRunners",
            dependencies: [
                "JobdProtocol", "JobdHandlers", "CJobdSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        // Handlers: kinds of job that run as Swift code, in the daemon or in a worker. No process or
        // socket code here, so a new handler is a small file and one line in HandlerRegistry.builtIn.
        .target(
            name: "JobdHandlers",
            dependencies: ["JobdProtocol", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The Linux calls Swift's Glibc module hides (pidfd_open, pipe2, epoll, prctl, vfork-based spawn,
        // SO_PEERCRED): see ../shared/PLATFORM.md. Only JobdRunners uses it (System/ and the handler process).
        .target(name: "CJobdSystem"),

        // MARK: - Build tools
        .executableTarget(name: "embed-migrations", path: "Plugins/EmbedMigrationsTool"),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["embed-migrations"]),

        // MARK: - Benchmarks (make bench; not part of the tests)
        .executableTarget(
            name: "jobd-bench",
            dependencies: [
                "JobdClient", "JobdVarlinkNIO", "JobdProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/jobd-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests
        .target(
            name: "JobdTestSupport",
            dependencies: ["JobdClient", "JobdVarlinkNIO", "JobdProtocol"],
            path: "Tests/JobdTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "JobdProtocolTests", dependencies: ["JobdProtocol"], swiftSettings: swiftSettings),
        .testTarget(name: "JobdSchedulerTests", dependencies: ["JobdScheduler"], swiftSettings: swiftSettings),
        .testTarget(
            name: "JobdStoreTests",
            dependencies: ["JobdStore", "JobdProtocol", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JobdRunnersTests",
            dependencies: ["JobdRunners", "JobdHandlers", "JobdProtocol", "JobdTestSupport"],
            swiftSettings: swiftSettings
        ),
        // The daemon's glue (dispatcher, completion, responder) against an in-memory store, fake runners
        // and a test clock: no socket, no SQLite, no processes.
        .testTarget(
            name: "JobdServerTests",
            dependencies: [
                "JobdServer", "JobdStore", "JobdRunners", "JobdScheduler", "JobdHandlers", "JobdProtocol",
                "JobdTestSupport", .product(name: "Logging", package: "swift-log"),
                // The store contract runs on SQLiteStore over an in-memory GRDB queue too.
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["JobdClient", "JobdVarlinkNIO", "JobdProtocol", "JobdTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
