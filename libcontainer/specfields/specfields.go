// Package specfields is the one table of every runtime-spec field and what
// Berth does with it: applied (and the test that checks it from inside or
// outside a container), refused with an error (and the test of the error),
// or ignored because the spec allows it (and why). A unit test walks
// specs.Spec by reflection and fails on any field the table does not
// cover, so upgrading github.com/opencontainers/runtime-spec turns CI red
// until each new field is handled; `berth features` reads its answers from
// the same table, so it cannot claim what is not done.
package specfields

import "strings"

// Treatment is what Berth does with a field.
type Treatment int

const (
	// Applied fields reach the kernel; Test checks the result.
	Applied Treatment = iota
	// Refused fields make create (or exec -p) fail naming them; Test
	// checks the error and that nothing is left behind.
	Refused
	// Ignored fields have no effect, as the spec allows; Note says why.
	Ignored
)

func (t Treatment) String() string {
	return [...]string{"applied", "refused", "ignored"}[t]
}

// Field is one row: Path is the field's JSON path, names joined by dots
// (slices and maps add no segment: "mounts.uidMappings.size"); a "*"
// segment matches any one name; a path that names an object covers every
// field below it.
type Field struct {
	Path      string
	Treatment Treatment
	// Test is the test function that checks the treatment (Applied and
	// Refused must have one).
	Test string
	// Note qualifies: when a field is refused, what the host lacks; for
	// Ignored, the spec's words.
	Note string
}

// Table is every field of runtime-spec 1.3.0's Go types.
var Table = []Field{
	{"ociVersion", Applied, "TestLoadRejectsBadBundles", "must be set; passed to hooks in the state"},

	{"process.terminal", Applied, "TestTerminalForegroundRun", ""},
	{"process.consoleSize", Applied, "TestTerminalConsoleSizeRunDetached", ""},
	{"process.user.uid", Applied, "TestProcessUserIDsGroupsAndUmask", ""},
	{"process.user.gid", Applied, "TestProcessUserIDsGroupsAndUmask", ""},
	{"process.user.umask", Applied, "TestProcessUserIDsGroupsAndUmask", ""},
	{"process.user.additionalGids", Applied, "TestProcessUserIDsGroupsAndUmask", ""},
	{"process.user.username", Ignored, "", `config.md: "username ... This is only applicable to windows" (platform: windows)`},
	{"process.args", Applied, "TestProcessArgsPassedVerbatim", ""},
	{"process.commandLine", Ignored, "", `config.md: "commandLine ... This option is only supported on Windows" (platform: windows)`},
	{"process.env", Applied, "TestProcessEnvSet", ""},
	{"process.cwd", Applied, "TestProcessCwdCreatedIfMissing", ""},
	{"process.capabilities", Applied, "TestCapabilitiesAsGiven", "unknown names warn, malformed ones are refused (TestMalformedCapabilityFailsCreate)"},
	{"process.rlimits", Applied, "TestRlimitsApplied", "unknown types are refused"},
	{"process.noNewPrivileges", Applied, "TestNoNewPrivileges", ""},
	{"process.apparmorProfile", Applied, "TestAppArmorProfileApplied",
		"where AppArmor is enabled (the Debian guest); a profile that is not loaded is refused naming it; refused where AppArmor is off (TestCVE_2019_16884NoUnconfinedStart)"},
	{"process.oomScoreAdj", Applied, "TestOomScoreAdjApplied", ""},
	{"process.scheduler", Applied, "TestProcessSchedulerIOPriorityAffinity", "invalid values are refused (TestUnappliedFieldsAreRefused)"},
	{"process.selinuxLabel", Refused, "TestUnappliedFieldsAreRefused", "SELinux labels are not applied yet"},
	{"process.ioPriority", Applied, "TestProcessSchedulerIOPriorityAffinity", ""},
	{"process.execCPUAffinity", Applied, "TestProcessSchedulerIOPriorityAffinity", ""},

	{"root.path", Applied, "TestRelativeRootIsUsable", ""},
	{"root.readonly", Applied, "TestReadonlyRootRefusesWrites", ""},
	{"hostname", Applied, "TestHostnameAndDomainnameSet", ""},
	{"domainname", Applied, "TestHostnameAndDomainnameSet", ""},

	{"mounts.destination", Applied, "TestMountFlagsNosuidNodevNoexec", ""},
	{"mounts.type", Applied, "TestMountFlagsNosuidNodevNoexec", ""},
	{"mounts.source", Applied, "TestRbindIncludesSubmountsAndBindDoesNot", ""},
	{"mounts.options", Applied, "TestRecursiveMountAttributes", "file system data on a bind mount is warned about (TestBindMountDataOptionsWarned)"},
	{"mounts.uidMappings", Applied, "TestIDMappedMountWithoutUserNamespace",
		"with idmap/ridmap, also from the container's user namespace (TestIDMappedMountUsesContainerUserNamespace, TestIDMappedMountRecursive); refused on a non-bind mount or without mount_setattr (TestIDMappedMountRefusals)"},
	{"mounts.gidMappings", Applied, "TestIDMappedMountWithoutUserNamespace", "as uidMappings"},

	{"hooks.*.path", Applied, "TestHooksRunInLifecycleOrder", "relative or missing paths are refused (TestMissingOrRelativeHookPathFailsCreate)"},
	{"hooks.*.args", Applied, "TestHookArgsAndEnv", ""},
	{"hooks.*.env", Applied, "TestHookArgsAndEnv", ""},
	{"hooks.*.timeout", Applied, "TestHookTimeoutKillsHook", ""},
	{"annotations", Applied, "TestStateJSONHasExactlyRuncFields", "in the state given to hooks and shown by state; no annotation changes what Berth does"},

	{"linux.uidMappings", Applied, "TestUserNamespaceMapsIDs", ""},
	{"linux.gidMappings", Applied, "TestUserNamespaceMapsIDs", ""},
	{"linux.sysctl", Applied, "TestSysctlApplied", "keys of a namespace the container does not own are refused"},
	{"linux.resources.devices", Applied, "TestResourcesDevicesDenyRule", ""},
	{"linux.resources.memory.limit", Applied, "TestResourcesMemoryLimitOOMKill", ""},
	{"linux.resources.memory.reservation", Applied, "TestResourcesMemoryReservationSwappinessOOMKillDisable", ""},
	{"linux.resources.memory.swap", Applied, "TestResourcesV2MemoryMaxOOMKill", ""},
	{"linux.resources.memory.kernel", Ignored, "TestResourcesKernelTCPLimitAndUpdate",
		`config-linux.md: "kernel (int64, OPTIONAL, NOT RECOMMENDED)"; kernels since 5.4 no longer enforce it; a warning says so`},
	{"linux.resources.memory.kernelTCP", Applied, "TestResourcesKernelTCPLimitAndUpdate", "v1 only; cgroup v2 has no such limit: a warning says so"},
	{"linux.resources.memory.swappiness", Applied, "TestResourcesMemoryReservationSwappinessOOMKillDisable", "v1 only; refused on v2 (TestResourcesV1OnlyLimitsRefusedOnV2)"},
	{"linux.resources.memory.disableOOMKiller", Applied, "TestResourcesMemoryReservationSwappinessOOMKillDisable", "v1 only; refused on v2 (TestResourcesV1OnlyLimitsRefusedOnV2)"},
	{"linux.resources.memory.useHierarchy", Applied, "TestResourcesUseHierarchy", "true is what every kernel does; false is refused"},
	{"linux.resources.memory.checkBeforeUpdate", Applied, "TestUpdateCheckBeforeUpdateRefusesLimitBelowUsage", "v2; v1's kernel makes the check itself"},
	{"linux.resources.cpu.shares", Applied, "TestResourcesCPU", ""},
	{"linux.resources.cpu.quota", Applied, "TestResourcesCPU", ""},
	{"linux.resources.cpu.period", Applied, "TestResourcesCPU", ""},
	{"linux.resources.cpu.cpus", Applied, "TestResourcesCPU", ""},
	{"linux.resources.cpu.mems", Applied, "TestResourcesCPU", ""},
	{"linux.resources.cpu.burst", Applied, "TestResourcesCPUBurstIdleRealtime", ""},
	{"linux.resources.cpu.idle", Applied, "TestResourcesCPUBurstIdleRealtime", ""},
	{"linux.resources.cpu.realtimeRuntime", Applied, "TestResourcesCPUBurstIdleRealtime", "v1 only; refused on v2 (TestResourcesV1OnlyLimitsRefusedOnV2)"},
	{"linux.resources.cpu.realtimePeriod", Applied, "TestResourcesCPUBurstIdleRealtime", "v1 only; refused on v2"},
	{"linux.resources.pids.limit", Applied, "TestResourcesPidsLimit", ""},
	{"linux.resources.blockIO.weight", Applied, "TestResourcesBlkioWeight", ""},
	{"linux.resources.blockIO.leafWeight", Ignored, "TestResourcesBlkioLeafWeightWithoutKernelSupport",
		"only the CFQ scheduler had leaf weights and it left Linux in 5.0; where the kernel has no blkio.leaf_weight a warning says so"},
	{"linux.resources.blockIO.weightDevice.major", Applied, "TestResourcesBlockIOWeightDevice", "needs BFQ on the device; refused otherwise"},
	{"linux.resources.blockIO.weightDevice.minor", Applied, "TestResourcesBlockIOWeightDevice", "needs BFQ on the device; refused otherwise"},
	{"linux.resources.blockIO.weightDevice.weight", Applied, "TestResourcesBlockIOWeightDevice", "needs BFQ on the device; refused otherwise"},
	{"linux.resources.blockIO.weightDevice.leafWeight", Ignored, "TestResourcesBlkioLeafWeightWithoutKernelSupport", "as blockIO.leafWeight"},
	{"linux.resources.blockIO.throttleReadBpsDevice", Applied, "TestResourcesBlockIOThrottleDevices", ""},
	{"linux.resources.blockIO.throttleWriteBpsDevice", Applied, "TestResourcesBlockIOThrottleDevices", ""},
	{"linux.resources.blockIO.throttleReadIOPSDevice", Applied, "TestResourcesBlockIOThrottleDevices", ""},
	{"linux.resources.blockIO.throttleWriteIOPSDevice", Applied, "TestResourcesBlockIOThrottleDevices", ""},
	{"linux.resources.hugepageLimits", Applied, "TestResourcesHugetlbLimit", ""},
	{"linux.resources.network.classID", Applied, "TestResourcesNetClsClassID", "v1 only; refused on v2 (TestResourcesV1OnlyLimitsRefusedOnV2)"},
	{"linux.resources.network.priorities", Refused, "TestResourcesV1OnlyLimitsRefusedOnV2", "written to net_prio on v1 where it is mounted; refused on v2; no test host mounts net_prio"},
	{"linux.resources.rdma", Applied, "TestResourcesRdmaNamesWhatIsMissing", "written to rdma.max; no test host has an RDMA device, so the test checks the error without one"},
	{"linux.resources.unified", Applied, "TestResourcesUnified", "v2 only; refused on v1 (TestParityUnifiedOnV1IsInvalidConfiguration)"},
	{"linux.cgroupsPath", Applied, "TestCgroupsPathAbsolutePlacesInit", ""},
	{"linux.namespaces.type", Applied, "TestRequestedNamespacesDifferFromHost", ""},
	{"linux.namespaces.path", Applied, "TestJoinNetworkNamespaceByPath", ""},
	{"linux.devices", Applied, "TestLinuxDevicesCreated", ""},
	{"linux.netDevices", Applied, "TestNetDevicesMovedRenamedAndUp",
		"moved before the init is configured, renamed, addresses kept, up; a missing device, a bad name or no network namespace is refused (TestNetDevicesRefusals)"},
	{"linux.seccomp.defaultAction", Applied, "TestSeccompErrnoDeniesMkdir", ""},
	{"linux.seccomp.defaultErrnoRet", Applied, "TestSeccompErrnoRetHonoured", ""},
	{"linux.seccomp.architectures", Applied, "TestSeccompDockerDefaultProfile", ""},
	{"linux.seccomp.flags", Applied, "TestSeccompFlagsAccepted", ""},
	{"linux.seccomp.listenerPath", Applied, "TestSeccompNotifyAgent", ""},
	{"linux.seccomp.listenerMetadata", Applied, "TestSeccompNotifyAgent", ""},
	{"linux.seccomp.syscalls.names", Applied, "TestSeccompErrnoDeniesMkdir", "names this libseccomp does not know are skipped, as runc does (TestSeccompUnknownSyscallNamesSkipped)"},
	{"linux.seccomp.syscalls.action", Applied, "TestSeccompErrnoDeniesMkdir", ""},
	{"linux.seccomp.syscalls.errnoRet", Applied, "TestSeccompErrnoRetHonoured", ""},
	{"linux.seccomp.syscalls.args", Applied, "TestSeccompArgumentOperators", ""},
	{"linux.rootfsPropagation", Applied, "TestRootfsPropagation", ""},
	{"linux.maskedPaths", Applied, "TestMaskedPathsHideContent", ""},
	{"linux.readonlyPaths", Applied, "TestReadonlyPathsRefuseWrites", ""},
	{"linux.mountLabel", Ignored, "TestMountLabelIgnoredWithoutSELinux",
		`config-linux.md: "mountLabel ... will set the Selinux context for the mounts"; without SELinux there is no context to set (a warning says so); refused where SELinux is enabled`},
	{"linux.intelRdt", Applied, "TestApplyMakesContainerGroupInSpecOrder",
		"through resctrl (TestClosIDGroupIsComparedAndKept, TestMonitoringGroup, TestCheckRefuses); no test machine has RDT hardware, so these run on a directory laid out like resctrl; where resctrl is not mounted create fails naming it (TestUnappliedFieldsAreRefused)"},
	{"linux.memoryPolicy", Applied, "TestMemoryPolicy", ""},
	{"linux.personality", Applied, "TestPersonalityLinux32", "domains other than LINUX and LINUX32, and any flag, are refused"},
	{"linux.timeOffsets", Applied, "TestTimeNamespaceOffsets", ""},

	{"solaris", Ignored, "", `config.md: "solaris (object, OPTIONAL) ... This MAY be set if the target platform of this spec is solaris"`},
	{"windows", Ignored, "", `config.md: "windows (object, OPTIONAL) ... This MUST be set if the target platform of this spec is windows"`},
	{"zos", Ignored, "", `config.md: "zos (object, OPTIONAL) ... This MAY be set if the target platform of this spec is zos"`},
	{"freebsd", Ignored, "", `config.md: "freebsd (object, OPTIONAL) ... This MAY be set if the target platform of this spec is freebsd"`},
	{"vm", Refused, "TestLoadRejectsBadBundles", "the vm section asks for a hypervisor-based runtime"},
}

// Lookup returns the row that covers path: the longest whose Path matches
// path or one of its ancestors.
func Lookup(path string) (Field, bool) {
	var best Field
	found := false
	segs := strings.Split(path, ".")
	for _, f := range Table {
		fs := strings.Split(f.Path, ".")
		if len(fs) > len(segs) || !matches(fs, segs[:len(fs)]) {
			continue
		}
		if !found || len(fs) > len(strings.Split(best.Path, ".")) {
			best, found = f, true
		}
	}
	return best, found
}

func matches(pattern, segs []string) bool {
	for i, p := range pattern {
		if p != "*" && p != segs[i] {
			return false
		}
	}
	return true
}

// IsApplied reports whether the field at path is applied: what `berth
// features` reports as enabled.
func IsApplied(path string) bool {
	f, ok := Lookup(path)
	return ok && f.Treatment == Applied
}

// Markdown renders the table for docs/spec-fields.md (a unit test keeps
// that file equal to it).
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Every runtime-spec field and what Berth does with it\n\n")
	b.WriteString("Generated from `libcontainer/specfields` (the table `berth features` and its guard test read);\n")
	b.WriteString("`BERTH_UPDATE_DOCS=1 go test ./libcontainer/specfields/` rewrites this file. A path covers every\n")
	b.WriteString("field below it; `*` is any one name.\n\n")
	b.WriteString("| field | treatment | test | note |\n|---|---|---|---|\n")
	for _, f := range Table {
		test := ""
		if f.Test != "" {
			test = "`" + f.Test + "`"
		}
		note := strings.ReplaceAll(f.Note, "|", "\\|")
		b.WriteString("| `" + f.Path + "` | " + f.Treatment.String() + " | " + test + " | " + note + " |\n")
	}
	return b.String()
}
