using System.Diagnostics;
using TdxSim.Abi;
using TdxSim.Abi.Faults;
using Akka.Actor;
using TdxSim.Abi.Messages;
using TdxSim.Devices;
using TdxSim.Devices.Bus;
using TdxSim.Guest;
using TdxSim.Guest.Spin;
using TdxSim.Guest.Diagnostics;
using TdxSim.Guest.Kernel;
using TdxSim.Images;
using TdxSim.Images.Guests;
using TdxSim.Machine.Scenarios;
using TdxSim.Memory;
using TdxSim.Runtime;
using TdxSim.Runtime.Configuration;
using TdxSim.Runtime.Deterministic;
using TdxSim.Runtime.Tracing;
using TdxSim.TdxModule;
using TdxSim.TdxModule.Memory;
using TdxSim.Vmm;
using TdxSim.Vmm.Memory;
using TdxSim.Vmm.Msr;

namespace TdxSim.Machine;

/// <summary>Where a run's outputs go.</summary>
/// <param name="Com1">Receives exactly the bytes the guest transmits on COM1 (stdout for the CLI).</param>
/// <param name="Observers">Delivery observers to attach (message log, trace, counters), or none.</param>
public sealed record MachineIo(Stream Com1, IReadOnlyList<IDeliveryObserver>? Observers = null)
{
    /// <summary>A signal from the user (SIGINT, SIGTERM) that stops the run cleanly, or null.</summary>
    public RunInterrupt? Interrupt { get; init; }

    /// <summary>
    /// Per vCPU, round trips that run before latencies are measured (<see cref="VcpuStatistics.WarmupRoundTrips"/>):
    /// a stress run's warm-up. Null or shorter than the vCPUs: none.
    /// </summary>
    public IReadOnlyList<long>? WarmupRoundTrips { get; init; }

    /// <summary>Record the contention report (<see cref="MachineResult.Contention"/>): two clock reads per message in real time.</summary>
    public bool Contention { get; init; }

    /// <summary>Audit hooks (poisoned registers and memory, a watched host memory path), or null: none.</summary>
    public Audit.IMachineInstrumentation? Instrumentation { get; init; }

    /// <summary>Host API calls the VMM makes on the live vCPUs while it handles their exits (tests), or null: none.</summary>
    public Vmm.HostApi.IHostCallDriver? HostCalls { get; init; }
}

/// <summary>
/// Builds one TD from a <see cref="Scenario"/> and runs it to its end: guest memory with the image loaded,
/// the devices, the VMM, the TDX module and one actor per vCPU (contract section 3), under the concurrent or
/// the deterministic dispatcher.
/// </summary>
public static class TdMachine
{
    /// <summary>Instructions a vCPU runs before yielding to its mailbox.</summary>
    public const ulong DefaultSliceInstructions = 20_000;

    /// <summary>PAUSEs between pause-loop exits: a spin-wait loop yields after this many iterations.</summary>
    public const int PauseExitInterval = 4;

    /// <summary>How long the deterministic loop waits, with nothing ready and no timer, before it calls the TD idle.</summary>
    private static readonly TimeSpan DeterministicIdleGrace = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan ActorStartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long stopping the actor system may take.</summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="scenario"/>.</summary>
    /// <exception cref="ScenarioException">The scenario, image or options are unusable (exit status 2).</exception>
    public static MachineResult Run(Scenario scenario, MachineIo io)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(io);
        Validate(scenario);
        GuestImage image = BuildImage(scenario);

        using GuestPhysicalMemory memory = ReserveMemory(scenario);
        io.Instrumentation?.MemoryReserved(memory);
        LoadImage(memory, image);

        var com1 = new StreamByteSink(io.Com1);
        var deviceEvents = new DeviceEventCollector();
        MachineDevices devices = MachineDevices.CreateDefault(com1, deviceEvents);
        var vmmCore = new VmmCore(
            new VmmOptions
            {
                VcpuCount = scenario.Vcpus,
                Cpuid = image.Linux is not null ? Vmm.Cpuid.CpuidTable.CreateDefault(Vmm.Cpuid.CpuidTable.KvmSignature) : Vmm.Cpuid.CpuidTable.CreateDefault(),
                MapGpaRetryAfterEachChunk = scenario.VmmSettings.MapGpaRetry,
                ResumeAfterReportFatalError = scenario.VmmSettings.OnFatalError == FatalErrorPolicy.Resume,
                Msrs = BuildMsrTable(scenario.VmmSettings),
            },
            devices.PortBus,
            devices.MmioBus,
            io.Instrumentation is { } audit ? audit.WrapHostMemory(new GuestPhysicalMemoryHost(memory)) : new GuestPhysicalMemoryHost(memory),
            deviceEvents);
        var moduleCore = new TdxModuleCore(
            new TdxModuleOptions
            {
                NumVcpus = scenario.Vcpus,
                // A Linux guest with no td_attributes gets SEPT_VE_DISABLE, as QEMU's TDX default (sept-ve-disable=on):
                // Linux refuses to run a non-debug TD where EPT-violation #VEs on private memory could reach it.
                Attributes = scenario.TdAttributes == 0 && image.Linux is not null ? Abi.TdAttributes.SeptVeDisable : scenario.TdAttributes,
                Mrtd = Measure(image),
                Seed = scenario.Seed,
            },
            new GuestPhysicalMemoryAdapter(memory));

        var cpus = new Cpu.Cpu[scenario.Vcpus];
        var stats = new VcpuStatistics[scenario.Vcpus];
        for (int i = 0; i < cpus.Length; i++)
        {
            cpus[i] = new Cpu.Cpu(memory, i, new Cpu.CpuOptions { PauseExitInterval = PauseExitInterval, GuestSystem = image.Linux is not null });
            stats[i] = new VcpuStatistics { WarmupRoundTrips = io.WarmupRoundTrips is { } warm && i < warm.Count ? warm[i] : 0 };
            ResetVcpu(ref cpus[i].State, i, scenario, image);
            io.Instrumentation?.VcpuReset(i, cpus[i].State.Gpr);
        }

        HostFaultInjector? faults = scenario.HostileVmm is { } hostile
            ? new HostFaultInjector(new HostileVmmPlan(hostile.Seed ?? scenario.Seed, hostile.Faults, hostile.Rate), scenario.Vcpus)
            : null;
        ulong? replyTimeoutNs = scenario.ReplyTimeoutMs == 0 ? null : MillisecondsToNs(scenario.ReplyTimeoutMs);
        if (faults is not null)
        {
            // Nothing may hang on a host that withholds replies: a hostile run waits at most this long for one.
            ulong hostileMs = scenario.Deterministic ? Scenario.HostileDeterministicReplyTimeoutMs : Scenario.HostileReplyTimeoutMs;
            replyTimeoutNs = Math.Min(replyTimeoutNs ?? ulong.MaxValue, MillisecondsToNs(hostileMs));
        }

        var kernel = new GuestKernelOptions
        {
            UnrollStringIo = scenario.UnrollStringIo,
            LinuxGuest = image.Linux is not null,
            LazyAccept = scenario.LazyAccept,

            // On virtual time an accept holds its SEPT entry for its cost, so a retry finds it free; on real threads
            // the holder is a host thread the OS may preempt (or a first call the JIT compiles) while the loser spins.
            AcceptBusyRetryLimit = scenario.Deterministic
                ? GuestKernelOptions.Default.AcceptBusyRetryLimit
                : GuestKernelOptions.RealTimeAcceptBusyRetryLimit,
        };
        var timebase = new GuestTimebase(scenario.Vcpus);
        SpinWatchers? spinWatch = scenario.Deterministic && scenario.SpinFastForward && image.Linux is null
            && Environment.GetEnvironmentVariable("TDXSIM_SPIN_FAST_FORWARD") != "0"
            ? new SpinWatchers(memory)
            : null;
        var completion = new TaskCompletionSource<MachineOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        TimeSpan quoteDelay = TimeSpan.FromTicks((long)(scenario.VmmSettings.QuoteDelayNs / 100));
        var wiring = new MachineWiring(
            scenario.Vcpus,
            scenario.Vmm == VmmTopology.PerVcpu,
            scenario.Module == ModuleTopology.PerVcpu,
            machine => VmmActor.Props(vmmCore, machine, quoteDelay, faults, io.HostCalls),
            vmmFor => TdxModuleActor.CreateProps(moduleCore, vmmFor, faults),
            (i, module, machine) => VcpuActor.Props(new VcpuSetup(
                i, cpus[i], module, machine, kernel, scenario.MaxInstructions, DefaultSliceInstructions, stats[i], image.Linux is not null ? timebase : null, spinWatch)),
            scenario.VmmSettings.HltWakeNs,
            scenario.TimeLimitMs is ulong limitMs ? MillisecondsToNs(limitMs) : null,
            replyTimeoutNs,
            scenario.VmmSettings.OnFatalError == FatalErrorPolicy.Resume,
            (vcpu, rip, reason) => InstructionBytes.FatalDetail(vcpu, cpus[vcpu], rip, reason),
            completion,
            HostileHost: faults is not null,
            WatchdogPeriod: faults is not null && replyTimeoutNs is ulong t ? TimeSpan.FromTicks(Math.Max(1, (long)(t / 400))) : null,
            VmType: scenario.VmType,
            MemoryBytes: scenario.Memory,
            InterruptDelivery: image.Linux is not null);

        Akka.Configuration.Config config = RuntimeConfig.Build(scenario.Deterministic, scenario.Seed, scenario.AkkaConfig);
        if (!scenario.Deterministic)
        {
            EnsurePoolThreads(scenario.Vcpus);
        }

        var wall = Stopwatch.StartNew();
        ActorSystem system;
        try
        {
            system = RuntimeConfig.CreateSystem("td", config);
        }
        catch (RuntimeConfigException e)
        {
            throw new ScenarioException(e.Message, e);
        }

        using var systemLifetime = system;
        TdxRuntime runtime = TdxRuntime.Get(system);
        DeterministicDispatcher? loop = runtime.Deterministic;
        TdCostModel? costModel = null;
        runtime.ContentionWanted = io.Contention;
        devices.TimeAccesses = io.Contention && !scenario.Deterministic;
        if (loop is not null)
        {
            VirtualTimeScheduler time = runtime.VirtualTime!;
            costModel = new TdCostModel(scenario.Costs, cpus, () => time.NowNanoseconds, request => DeviceOf(devices, request));
            runtime.CostModel = costModel;
        }

        foreach (IDeliveryObserver observer in io.Observers ?? [])
        {
            // The log's t_ns must come from the runtime's clock: virtual time in deterministic runs.
            if (observer is Logging.MessageRecorder recorder)
            {
                recorder.UseRuntimeClock(runtime.Clock);
            }

            runtime.AddDeliveryObserver(observer);
        }

        // Sampled like the actors' handlings when only the contention report wants timestamps (real time, no log).
        devices.HoldSampleInterval = Math.Max(1, runtime.ContentionStride);

        IActorRef machine = runtime.StartTopLevel(Props.Create(() => new MachineActor(wiring)), "machine", ActorStartTimeout);
        io.Interrupt?.Attach(() => machine.Tell(new StopRequestedByHost(io.Interrupt.Signal!, io.Interrupt.Status)));
        MachineOutcome outcome;
        if (loop is not null)
        {
            loop.RunUntil(completion.Task, runtime.VirtualTime, DeterministicIdleGrace);
            outcome = completion.Task.IsCompleted
                ? completion.Task.Result
                : throw new InvalidOperationException("the deterministic dispatcher went idle before the TD ended");
        }
        else
        {
            outcome = completion.Task.GetAwaiter().GetResult();
        }

        // What never reached a handler while the TD ran: messages still in flight when the system stops are not lost.
        long deadLetters = runtime.DeadLetterCount, unhandled = runtime.UnhandledCount, dropped = runtime.DroppedCount;
        long endNs = runtime.Clock.NowNanoseconds;
        if (loop is not null)
        {
            // The log of a deterministic run ends where the TD ended: what the shutdown still delivers varies from run to
            // run (Akka stops the actors from its own threads while the loop drains their mailboxes).
            runtime.DetachDeliveryObservers();
        }

        if (!runtime.Terminate(ShutdownGrace))
        {
            throw new InvalidOperationException($"the actor system did not terminate within {ShutdownGrace.TotalSeconds} s");
        }

        wall.Stop();
        com1.Flush();

        var counters = new SortedDictionary<string, long>(StringComparer.Ordinal);
        Merge(counters, "vmm.", vmmCore.Counters.Snapshot());
        Merge(counters, "tdx_module.", moduleCore.Counters.Snapshot());
        Merge(counters, string.Empty, devices.GetCounters());
        for (int i = 0; i < stats.Length; i++)
        {
            counters[$"vcpu{i}.ve"] = stats[i].VeCount;
            counters[$"vcpu{i}.tdcall"] = stats[i].TdcallCount;
            counters[$"vcpu{i}.module_emulated"] = stats[i].ModuleEmulated;
            if (cpus[i].ExternalInterrupts != 0)
            {
                // Only when interrupts happened, so the dumps of guests without them stay as they were.
                counters[$"vcpu{i}.interrupts"] = (long)cpus[i].ExternalInterrupts;
            }
            if (stats[i].AcceptBusyRetries != 0)
            {
                counters[$"vcpu{i}.accept_busy_retries"] = stats[i].AcceptBusyRetries;
                counters["guest.accept_busy_retries"] = counters.GetValueOrDefault("guest.accept_busy_retries") + stats[i].AcceptBusyRetries;
            }

            foreach ((string reason, long n) in stats[i].VeByReason())
            {
                counters[$"vcpu{i}.ve.{reason}"] = n;
            }
        }

        counters["runtime.dead_letters"] = deadLetters;
        counters["runtime.unhandled"] = unhandled;
        counters["runtime.dropped"] = dropped;
        counters["runtime.failures"] = runtime.FailureCount;
        counters["runtime.unexpected_replies"] = outcome.UnexpectedReplies;
        counters["vmm.post_codes"] = outcome.PostCodes;
        if (vmmCore.IpisSent != 0 || vmmCore.TimerInterruptsPosted != 0)
        {
            counters["vmm.ipis"] = vmmCore.IpisSent;
            counters["vmm.timer_interrupts"] = vmmCore.TimerInterruptsPosted;
        }

        counters["vmm.quotes_completed"] = outcome.QuotesCompleted;
        counters["vmm.fatal_errors_resumed"] = outcome.ResumedFatalErrors.Count;
        counters["com1.bytes"] = com1.BytesWritten;
        IReadOnlyList<InjectedFault> injected = faults?.Snapshot() ?? [];
        if (faults is not null)
        {
            counters["hostile.faults"] = injected.Count;
            foreach (InjectedFault f in injected)
            {
                string key = $"hostile.{f.Name}";
                counters[key] = counters.GetValueOrDefault(key) + 1;
            }
        }

        // A TD the module killed: say why in the module's words (the vCPU only saw "killed").
        string detail = moduleCore.KillReason is { } killed && outcome.ExitStatus == ExitStatus.GuestFatal
            ? $"{outcome.Detail} (TDX module: {killed})"
            : outcome.Detail;
        ContentionReport? contention = io.Contention
            ? ContentionReport.Build(
                runtime.ContentionRecords(),
                costModel?.Devices() ?? [.. devices.GetLockTimes().Select(ResourceContention.From)],
                endNs,
                modelled: costModel is not null)
            : null;
        return new MachineResult(outcome.ExitStatus, outcome.Reason, detail, outcome.Vcpus, outcome.Reports,
            counters, wall.Elapsed, endNs, stats)
        {
            ResumedFatalErrors = outcome.ResumedFatalErrors,
            Contention = contention,
            InjectedFaults = injected,
        };
    }

    /// <summary>The device a TDVMCALL reaches (port I/O or MMIO), by its name on the bus, or null.</summary>
    private static string? DeviceOf(MachineDevices devices, TdVmcallRequested request)
    {
        if (request.Regs[Gpr.R10] != TdVmcall.StandardCall)
        {
            return null;
        }

        ulong subfn = request.Regs[Gpr.R11];
        ulong address = request.Regs[Gpr.R14];
        DeviceBus? bus = subfn == (ulong)TdVmcallSubfunction.InstructionIo ? devices.PortBus
            : subfn == (ulong)TdVmcallSubfunction.VeRequestMmio ? devices.MmioBus
            : null;
        if (bus is null)
        {
            return null;
        }

        if (bus == devices.PortBus)
        {
            address &= 0xFFFF;
        }
        else
        {
            address = GuestPhysical.StripShared(address);
        }

        return bus.TryResolve(address, out IIoDevice? device, out _) ? device.Name : null;
    }

    /// <summary>Milliseconds to nanoseconds, saturating: a huge limit means "never", not a wrapped short one.</summary>
    private static ulong MillisecondsToNs(ulong ms) => ms <= ulong.MaxValue / 1_000_000 ? ms * 1_000_000 : ulong.MaxValue;

    /// <summary>
    /// The concurrent dispatcher runs actors on the .NET thread pool. Busy vCPUs each hold a pool thread for a
    /// slice; without enough threads the pool's slow thread injection (and a caller blocked on a pool thread,
    /// as in a test host) would leave the module, the VMM or a lock-holding vCPU waiting behind spinning ones.
    /// </summary>
    private static void EnsurePoolThreads(int vcpus)
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        int wanted = Math.Min(vcpus + 4, 512);
        if (workers < wanted)
        {
            ThreadPool.SetMinThreads(wanted, io);
        }
    }

    private static void Validate(Scenario scenario)
    {
        if (scenario.Vcpus is < 1 or > Scenario.MaxVcpus)
        {
            throw new ScenarioException($"vcpus must be between 1 and {Scenario.MaxVcpus}, not {scenario.Vcpus}");
        }

        if (MachineLimits.CheckMemory(scenario.Memory) is { } problem)
        {
            throw new ScenarioException(problem);
        }

        ulong stacks = (ulong)scenario.Vcpus * MachineLimits.StackSize;
        if (stacks >= scenario.Memory)
        {
            throw new ScenarioException($"{scenario.Vcpus} vCPU stacks of 64K do not fit in {scenario.Memory >> 10}K of memory");
        }
    }

    private static GuestImage BuildImage(Scenario scenario)
    {
        if (scenario.Guest.BuiltIn is { } name)
        {
            if (!BuiltInGuests.TryGet(name, out BuiltInGuest guest))
            {
                throw new ScenarioException($"no built-in guest named '{name}' (known: {BuiltInGuests.Names})");
            }

            GuestImage built = guest.Build(new GuestBuildContext(scenario.Vcpus, scenario.Memory));
            return scenario.Entry is ulong entry ? WithEntry(built, entry) : built;
        }

        if (scenario.Guest.Image is { } inMemory)
        {
            return scenario.Entry is ulong programEntry ? WithEntry(inMemory, programEntry) : inMemory;
        }

        if (scenario.Guest.KernelPath is { } kernelPath)
        {
            try
            {
                return BzImage.LoadFile(kernelPath, scenario.Append, scenario.InitrdPath, scenario.Memory, scenario.Vcpus);
            }
            catch (ImageFormatException e)
            {
                throw new ScenarioException(e.Message, e);
            }
        }

        string path = scenario.Guest.ImagePath ?? throw new ScenarioException("the scenario names no guest");
        try
        {
            return ImageLoader.LoadFile(path, new ImageLoadOptions
            {
                LoadAddress = scenario.Load,
                Entry = scenario.Entry,
                MemoryBytes = scenario.Memory,
                VcpuStacks = scenario.Vcpus,
            });
        }
        catch (ImageFormatException e)
        {
            throw new ScenarioException(e.Message, e);
        }
    }

    /// <summary>
    /// An entry override must land on the guest's own bytes, as image files are checked (ImageLoader): anywhere else
    /// the vCPU would fault or run zeros, a bad value that is reported before the guest starts.
    /// </summary>
    private static GuestImage WithEntry(GuestImage image, ulong entry)
    {
        foreach (ImageSegment segment in image.Segments)
        {
            if (entry >= segment.Gpa && entry - segment.Gpa < (ulong)segment.Data.Length)
            {
                return image with { Entry = entry };
            }
        }

        string loaded = string.Join(", ", image.Segments.Select(s => $"[0x{s.Gpa:x}, 0x{s.Gpa + (ulong)s.Data.Length:x})"));
        throw new ScenarioException($"entry point 0x{entry:x} (overridden) is outside the guest's code ({loaded})");
    }

    /// <summary>
    /// Private memory is one host reservation; a size the host cannot map (address space or overcommit limits) is
    /// a problem with the requested size, reported like any other bad value rather than as an emulator failure.
    /// </summary>
    private static GuestPhysicalMemory ReserveMemory(Scenario scenario)
    {
        try
        {
            return new GuestPhysicalMemory(scenario.Memory, acceptAll: !scenario.LazyAccept);
        }
        catch (OutOfMemoryException e)
        {
            throw new ScenarioException($"memory size 0x{scenario.Memory:x} cannot be reserved on this host ({e.Message}); ask for less", e);
        }
    }

    private static void LoadImage(GuestPhysicalMemory memory, GuestImage image)
    {
        try
        {
            ImageInstaller.Install(image, memory);
        }
        catch (ImageFormatException e)
        {
            throw new ScenarioException(e.Message, e);
        }
    }

    /// <summary>Entry state of contract section 3.</summary>
    private static void ResetVcpu(ref Cpu.CpuState state, int index, Scenario scenario, GuestImage image)
    {
        state = default;

        // The power-on x87/SSE state the Cpu constructor set, which the line above wiped.
        state.SetPowerOnFpuState();
        state.Rip = image.Entry;
        state.Rflags = Cpu.CpuState.ResetRflags;
        state.Cr0 = Cpu.CpuState.LongModeCr0;
        state.Cr4 = Cpu.CpuState.LongModeCr4;
        state.Efer = Cpu.CpuState.LongModeEfer;
        state.Gpr[Gpr.Rsp] = (scenario.Memory - ((ulong)index * MachineLimits.StackSize)) & ~0xFUL;
        if (image.Linux is { } linux)
        {
            // The 64-bit boot protocol (contract section 9): RSI = the zero page, paging on with the loader's
            // identity map, the loader's GDT, CS = __BOOT_CS, DS = ES = SS = __BOOT_DS; every other GPR zero.
            state.Gpr[Gpr.Rsi] = linux.ZeroPage;
            state.Cr3 = linux.Cr3;
            state.GdtrBase = linux.GdtBase;
            state.GdtrLimit = linux.GdtLimit;
            state.Cs = LinuxBootState.BootCs;
            state.Ds = state.Es = state.Ss = LinuxBootState.BootDs;
            if (index > 0)
            {
                state.Rip = linux.ApEntry;
                state.Gpr[Gpr.Rsi] = 0;
                state.Gpr[Gpr.Rbx] = (ulong)index;
            }

            return;
        }

        state.Gpr[Gpr.Rdi] = (ulong)index;
        state.Gpr[Gpr.Rsi] = (ulong)scenario.Vcpus;
    }

    private static MsrTable BuildMsrTable(VmmSettings settings)
    {
        if (!settings.MsrDefaultDeny && settings.Msrs.Count == 0)
        {
            return MsrTable.CreateDefault();
        }

        var byIndex = new SortedDictionary<uint, MsrDefinition>();
        if (!settings.MsrDefaultDeny)
        {
            foreach (MsrDefinition d in MsrTable.CreateDefault().Definitions)
            {
                byIndex[d.Index] = d;
            }
        }

        foreach (MsrRule rule in settings.Msrs)
        {
            Vmm.Msr.MsrAccess access = rule.Access switch
            {
                Scenarios.MsrAccess.ReadOnly => Vmm.Msr.MsrAccess.ReadOnly,
                Scenarios.MsrAccess.WriteOnly => Vmm.Msr.MsrAccess.WriteOnly,
                _ => Vmm.Msr.MsrAccess.ReadWrite,
            };
            byIndex[rule.Index] = new MsrDefinition(rule.Index, $"MSR_0x{rule.Index:X}", access, MsrScope.Vcpu, rule.Value);
        }

        return new MsrTable(byIndex.Values);
    }

    /// <summary>MRTD: SHA-384 over the initial image, segment by segment (address, size, bytes).</summary>
    private static byte[] Measure(GuestImage image)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA384);
        Span<byte> header = stackalloc byte[16];
        foreach (ImageSegment segment in image.Segments)
        {
            BitConverter.TryWriteBytes(header, segment.Gpa);
            BitConverter.TryWriteBytes(header[8..], segment.MemorySize);
            hash.AppendData(header);
            hash.AppendData(segment.Data.Span);
        }

        return hash.GetHashAndReset();
    }

    private static void Merge(SortedDictionary<string, long> into, string prefix, IReadOnlyDictionary<string, long> from)
    {
        foreach ((string key, long value) in from)
        {
            into[prefix + key] = value;
        }
    }
}
