package rootless

import (
	"reflect"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limit is one field of linux.resources that the config sets, and the
// cgroup v1 controller that applies it.
type Limit struct {
	// Field is the field's path in config.json ("linux.resources.memory.limit").
	Field string
	// Controller is the v1 controller; on cgroup v2 the one cgroup holds
	// them all. It is "" for linux.resources.unified's cgroup.* keys.
	Controller string
}

// Limits lists what r sets, device rules left out: a rootless runtime
// cannot apply those without privilege anyway (runc ignores their errors),
// while a limit that cannot be applied must fail the create (runtime-spec:
// an unsupported value is an error).
func Limits(r *specs.LinuxResources) []Limit {
	if r == nil {
		return nil
	}
	var res []Limit
	v := reflect.ValueOf(r).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := jsonName(v.Type().Field(i))
		if name == "devices" {
			continue
		}
		for _, f := range setFields(v.Field(i), "linux.resources."+name) {
			res = append(res, Limit{Field: f, Controller: controllerOf(name, f)})
		}
	}
	return res
}

// controllerOf names the v1 controller of field f of the resources group.
func controllerOf(group, f string) string {
	last := f[strings.LastIndex(f, ".")+1:]
	switch group {
	case "cpu":
		if last == "cpus" || last == "mems" {
			return "cpuset"
		}
		return "cpu"
	case "blockIO":
		return "blkio"
	case "hugepageLimits":
		return "hugetlb"
	case "network":
		if last == "classID" {
			return "net_cls"
		}
		return "net_prio"
	case "unified":
		key := strings.TrimPrefix(f, "linux.resources.unified.")
		if ctrl, _, _ := strings.Cut(key, "."); ctrl != "cgroup" {
			return ctrl
		}
		return ""
	}
	return group // memory, pids, rdma
}

// setFields lists the paths of the non-zero leaves of v (a pointer that is
// set counts, whatever it points to: memory.swappiness 0 is a value).
func setFields(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		if v.Elem().Kind() != reflect.Struct {
			return []string{path}
		}
		return setFields(v.Elem(), path)
	case reflect.Struct:
		var res []string
		for i := 0; i < v.NumField(); i++ {
			res = append(res, setFields(v.Field(i), path+"."+jsonName(v.Type().Field(i)))...)
		}
		return res
	case reflect.Map:
		var keys []string
		for _, k := range v.MapKeys() {
			keys = append(keys, path+"."+k.String())
		}
		sort.Strings(keys)
		return keys
	}
	if v.IsZero() || v.Kind() == reflect.Slice && v.Len() == 0 {
		return nil
	}
	return []string{path}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
