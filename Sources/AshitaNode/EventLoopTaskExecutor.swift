import NIOCore

/// Runs a task's jobs on an event loop's thread, as Swift's task executor preference: a connection's task then
/// reads its frames, hands them to the hub and hears back on its own socket's loop, never crossing into the
/// cooperative pool. Work that blocks never runs here (it goes to `onDedicatedThread`).
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
