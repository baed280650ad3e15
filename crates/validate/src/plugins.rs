//! netlab's validation plugins answered from the twin: the functions of netlab's FRR and Linux
//! plugins (`netsim/validate/{ospf,isis,bgp,route}/frr.py`, `linux.py`), with their
//! parameters, their checks and their messages, reading the twin's adjacencies, BGP tables,
//! routing tables and packet traces instead of a device's JSON printout.

use crate::expr::Value;
use crate::Outcome;
use nettwin_dataplane::{Net, Probe, Proto};
use nettwin_model::{Family, IfAddr, NodeId, NodeKind, Prefix, Topology};
use nettwin_routing::igp::{adjacencies, Igp};
use nettwin_routing::{BgpPath, Protocol, Routing};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// What the plugins read.
pub(crate) struct Ctx<'a> {
    /// The topology with operational state (what forwarding and adjacencies see).
    pub oper: &'a Topology,
    /// The routing instances' topology with operational state: `oper` itself without VRFs;
    /// with VRFs node `i` is still node `i` but owns only its global interfaces, and each
    /// (node, VRF) is a node of its own (what the protocol checks must count adjacencies on).
    pub inst: &'a Topology,
    pub routing: &'a Routing,
}

/// A plugin's parameters in order, and whether it takes extra keyword checks (`**kwargs`).
struct Sig {
    params: &'static [&'static str],
    /// Parameters that can only be given by keyword (after `*` in Python).
    kw_only: &'static [&'static str],
    required: usize,
    kwargs: bool,
}

/// The plugins answered, with their signatures as netlab's `valid_XXX` functions declare them.
fn signature(name: &str) -> Option<Sig> {
    let s = |params, kw_only, required, kwargs| Sig {
        params,
        kw_only,
        required,
        kwargs,
    };
    Some(match name {
        "ospf_neighbor" => s(&["id", "present", "vrf"], &[], 1, false),
        "ospf6_neighbor" => s(&["id", "present"], &[], 1, false),
        "ospf_prefix" | "ospf6_prefix" => s(&["pfx", "state"], &[], 1, true),
        "isis_neighbor" => s(&["id", "present", "state", "level", "area"], &[], 1, false),
        "isis_prefix" => s(&["pfx", "level", "af", "present", "cost"], &[], 1, false),
        // FRR's plugin has no `vrf`; netlab's EOS plugin takes it by keyword (its position
        // differs between the two), so the twin accepts it by keyword only.
        "bgp_neighbor" => s(
            &["ngb", "n_id", "af", "state", "activate", "intf"],
            &["vrf"],
            2,
            false,
        ),
        "bgp_prefix" => s(&["pfx"], &["af", "state", "vrf"], 1, true),
        "rt_prefix" => s(&["pfx", "af", "state"], &[], 1, true),
        "ipv6_route" => s(&["pfx", "proto", "cost"], &[], 1, false),
        "ping" => s(
            &["host", "src", "af", "count", "pkt_len", "expect"],
            &[],
            1,
            false,
        ),
        "route" => s(&["pfx", "af", "intf", "state"], &[], 1, false),
        "default6" => s(&[], &[], 0, false),
        _ => return None,
    })
}

/// Plugin functions netlab ships that the twin cannot answer, with the reason.
fn known_unanswerable(name: &str) -> Option<&'static str> {
    Some(match name {
        "bgp_neighbor_details" => "BGP session details (timers, capabilities) are not modelled",
        _ => return None,
    })
}

/// The arguments of one call, bound to the plugin's parameter names.
pub(crate) struct Args {
    named: BTreeMap<String, Value>,
    /// Keyword arguments beyond the parameters (`**kwargs`), in call order.
    extra: Vec<(String, Value)>,
}

impl Args {
    fn get(&self, k: &str) -> Option<&Value> {
        self.named.get(k)
    }

    /// A string parameter (default when absent or `None`).
    fn string(&self, k: &str, default: &str) -> Result<String, String> {
        match self.named.get(k) {
            None | Some(Value::None) => Ok(default.to_string()),
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(v) => Err(format!("`{k}` must be a string, not {}", v.type_name())),
        }
    }

    fn flag(&self, k: &str, default: bool) -> bool {
        self.named.get(k).map(Value::truthy).unwrap_or(default)
    }
}

fn bind(
    name: &str,
    sig: &Sig,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Args, String> {
    if args.len() > sig.params.len() {
        return Err(format!(
            "{name}() takes {} positional argument{} but {} were given",
            sig.params.len(),
            if sig.params.len() == 1 { "" } else { "s" },
            args.len()
        ));
    }
    let mut named: BTreeMap<String, Value> = sig
        .params
        .iter()
        .zip(args)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut extra = Vec::new();
    for (k, v) in kwargs {
        if named.contains_key(&k) {
            return Err(format!("{name}() got multiple values for argument `{k}`"));
        }
        if sig.params.contains(&k.as_str()) || sig.kw_only.contains(&k.as_str()) {
            named.insert(k, v);
        } else if sig.kwargs {
            extra.push((k, v));
        } else {
            return Err(format!("{name}() got an unexpected keyword argument `{k}`"));
        }
    }
    for p in &sig.params[..sig.required] {
        if !named.contains_key(*p) {
            return Err(format!("{name}() is missing the argument `{p}`"));
        }
    }
    Ok(Args { named, extra })
}

/// Runs plugin `name` on `node` with evaluated arguments.
pub(crate) fn run(
    ctx: &Ctx,
    node: NodeId,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Outcome {
    let Some(sig) = signature(name) else {
        return Outcome::Skip(match known_unanswerable(name) {
            Some(why) => format!("plugin `{name}`: {why}"),
            None => format!(
                "plugin `{name}` is not one of netlab's validation plugins nettwin answers (custom plugins in the lab's validate/ directory are not run)"
            ),
        });
    };
    let a = match bind(name, &sig, args, kwargs) {
        Ok(a) => a,
        Err(e) => return Outcome::Fail(e),
    };
    let r = match name {
        "ospf_neighbor" => ospf_neighbor(ctx, node, &a, Family::Ipv4),
        "ospf6_neighbor" => ospf_neighbor(ctx, node, &a, Family::Ipv6),
        "ospf_prefix" => ospf_prefix(ctx, node, &a, Family::Ipv4),
        "ospf6_prefix" => ospf_prefix(ctx, node, &a, Family::Ipv6),
        "isis_neighbor" => isis_neighbor(ctx, node, &a),
        "isis_prefix" => isis_prefix(ctx, node, &a),
        "bgp_neighbor" => bgp_neighbor(ctx, node, &a),
        "bgp_prefix" => bgp_prefix(ctx, node, &a),
        "rt_prefix" => rt_prefix(ctx, node, &a),
        "ipv6_route" => ipv6_route(ctx, node, &a),
        "ping" => ping(ctx, node, &a),
        "route" => linux_route(ctx, node, &a),
        "default6" => default6(ctx, node),
        _ => unreachable!("every signature has a function"),
    };
    r.unwrap_or_else(Outcome::Fail)
}

type R = Result<Outcome, String>;

/// `ipaddress.ip_interface(addr).network`, as netlab's `get_prefix` does.
fn get_prefix(v: &Value) -> Result<Prefix, String> {
    let Value::Str(s) = v else {
        return Err(format!("Prefix {v} is not a string"));
    };
    IfAddr::parse(s, None)
        .or_else(|_| {
            nettwin_model::addr::parse_addr(s).map(|a| IfAddr {
                addr: a,
                len: if a.is_ipv4() { 32 } else { 128 },
            })
        })
        .map(|a| a.subnet())
        .map_err(|_| format!("`{s}` is not an IP prefix"))
}

/// The routing instance a plugin's `vrf` argument names on `node` (`default`: the global
/// table), or `Err(name)` when the node has no such VRF.
fn vrf_instance(ctx: &Ctx, node: NodeId, a: &Args) -> Result<Result<NodeId, String>, String> {
    let vrf = a.string("vrf", "default")?;
    if vrf == "default" {
        return Ok(Ok(node));
    }
    Ok(
        match ctx.oper.node(node).vrfs.iter().position(|v| v.name == vrf) {
            Some(k) => Ok(ctx.routing.instance(node, Some(k as u32))),
            None => Err(vrf),
        },
    )
}

fn router_id(topo: &Topology, node: NodeId) -> Option<Ipv4Addr> {
    topo.node(node).router_id
}

// ---------------------------------------------------------------- OSPF / IS-IS neighbours

/// One adjacency with the state FRR would print: `Full/-` on point-to-point links, and on a
/// multi-access segment the DR election by highest router id (`2-Way/DROther` between two
/// routers that are neither DR nor BDR).
fn ospf_adjacencies(ctx: &Ctx, node: NodeId, family: Family) -> Vec<(NodeId, String)> {
    let adj = adjacencies(ctx.inst, &ctx.routing.config, Igp::Ospf, node);
    let has = |r: nettwin_model::IfRef| {
        let i = ctx.inst.interface(r);
        match family {
            Family::Ipv4 => i.ipv4.is_some(),
            Family::Ipv6 => i.ipv6.is_some(),
        }
    };
    let mut out = Vec::new();
    for a in &adj {
        let me_if = nettwin_model::IfRef {
            node,
            index: a.interface,
        };
        if !has(me_if) || !has(a.neighbor) {
            continue;
        }
        let state = if a.multi_access {
            let mut ids: Vec<Option<Ipv4Addr>> = adj
                .iter()
                .filter(|b| b.interface == a.interface)
                .map(|b| router_id(ctx.inst, b.neighbor.node))
                .collect();
            ids.push(router_id(ctx.inst, node));
            ids.sort_unstable_by(|x, y| y.cmp(x));
            let role = |id: Option<Ipv4Addr>| match ids.iter().position(|x| *x == id) {
                Some(0) => "DR",
                Some(1) => "Backup",
                _ => "DROther",
            };
            let (me, them) = (
                role(router_id(ctx.inst, node)),
                role(router_id(ctx.inst, a.neighbor.node)),
            );
            let full = me != "DROther" || them != "DROther";
            format!("{}/{them}", if full { "Full" } else { "2-Way" })
        } else {
            "Full/-".to_string()
        };
        out.push((a.neighbor.node, state));
    }
    out
}

/// Why `node` has no `igp` adjacency with `other`, as far as the twin can tell.
fn why_no_adjacency(ctx: &Ctx, igp: Igp, node: NodeId, other: NodeId) -> String {
    let (cfg, ifs, pname) = match igp {
        Igp::Ospf => (
            &ctx.routing.config.ospf_if,
            ctx.routing.config.ospf[other.index()].is_some(),
            "OSPF",
        ),
        Igp::Isis => (
            &ctx.routing.config.isis_if,
            ctx.routing.config.isis[other.index()].is_some(),
            "IS-IS",
        ),
    };
    let (me, them) = (&ctx.inst.node(node).name, &ctx.inst.node(other).name);
    if !ifs {
        return format!("{them} does not run {pname}");
    }
    let mut reasons = Vec::new();
    for (i, iface) in ctx.inst.node(node).interfaces.iter().enumerate() {
        let Some(seg) = iface.segment else { continue };
        for m in &ctx.inst.segment(seg).members {
            if m.node != other {
                continue;
            }
            let (mine, theirs) = (&cfg[node.index()][i], &cfg[other.index()][m.index as usize]);
            let other_if = ctx.inst.interface(*m);
            let link = format!("{me} {} - {them} {}", iface.name, other_if.name);
            let why = if !iface.up || !other_if.up {
                "an interface is down".to_string()
            } else if mine.passive || theirs.passive {
                "an interface is passive".to_string()
            } else if igp == Igp::Ospf && mine.area != theirs.area {
                format!(
                    "area mismatch: {} on {me}, {} on {them}",
                    mine.area, theirs.area
                )
            } else if ctx.inst.node(node).asn != ctx.inst.node(other).asn {
                "the routers are in different ASes".to_string()
            } else {
                continue;
            };
            reasons.push(format!("{link}: {why}"));
        }
    }
    if reasons.is_empty() {
        format!("{me} and {them} share no link where {pname} runs")
    } else {
        reasons.join("; ")
    }
}

fn ospf_neighbor(ctx: &Ctx, node: NodeId, a: &Args, family: Family) -> R {
    let id = a.string("id", "")?;
    let v = if family == Family::Ipv4 { "v2" } else { "v3" };
    if id.parse::<Ipv4Addr>().is_err() {
        return Err(format!("OSPF router ID {id} is not a valid IPv4 address"));
    }
    let present = a.flag("present", true);
    // FRR answers `show ip ospf vrf NAME neighbor` of a VRF it does not have with no
    // neighbours: the check then fails (or passes with `present=False`) like a missing one.
    let (inst, no_vrf) = match vrf_instance(ctx, node, a)? {
        Ok(i) => (Some(i), None),
        Err(name) => (None, Some(name)),
    };
    let found = inst.and_then(|i| {
        ospf_adjacencies(ctx, i, family)
            .into_iter()
            .find(|(n, _)| router_id(ctx.inst, *n).map(|r| r.to_string()) == Some(id.clone()))
    });
    match (found, present) {
        (None, false) => Ok(Outcome::Pass(format!(
            "There is no OSPF{v} neighbor {id}, as expected"
        ))),
        (None, true) => {
            let why = match (inst, no_vrf) {
                (Some(i), _) => {
                    // The router with that id in the same VRF (by name) or, failing that, any.
                    let vrf_name = |x: NodeId| {
                        let (n, k) = ctx.routing.instance_of(x);
                        k.map(|k| ctx.oper.node(n).vrfs[k as usize].name.clone())
                    };
                    let mine = vrf_name(i);
                    let owners: Vec<NodeId> = ctx
                        .inst
                        .nodes
                        .iter()
                        .filter(|n| n.router_id.map(|r| r.to_string()) == Some(id.clone()))
                        .map(|n| n.id)
                        .collect();
                    let owner = owners
                        .iter()
                        .find(|&&o| vrf_name(o) == mine)
                        .or(owners.first());
                    match owner {
                        Some(&o) => why_no_adjacency(ctx, Igp::Ospf, i, o),
                        None => "no router has that router ID".into(),
                    }
                }
                (None, name) => format!(
                    "{} has no VRF {}",
                    ctx.oper.node(node).name,
                    name.unwrap_or_default()
                ),
            };
            Ok(Outcome::Fail(format!(
                "There is no OSPF{v} neighbor {id} ({why})"
            )))
        }
        (Some((_, st)), false) => Ok(Outcome::Fail(format!(
            "Unexpected OSPF{v} neighbor {id} in state {st}"
        ))),
        (Some((_, st)), true) => {
            let msg = format!("OSPF{v} neighbor {id} is in state {st}");
            Ok(if st.starts_with("Full") {
                Outcome::Pass(msg)
            } else {
                Outcome::Fail(msg)
            })
        }
    }
}

/// netlab's IS-IS defaults, the only ones the twin runs: level 2 in area 49.0001.
const ISIS_LEVEL: &str = "L2";
const ISIS_AREA: &str = "49.0001";

fn isis_neighbor(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let id = a.string("id", "")?;
    let present = a.flag("present", true);
    let want_state = a.string("state", "Up")?;
    let level = a.string("level", "")?;
    let area = a.string("area", "")?;
    let adj = adjacencies(ctx.inst, &ctx.routing.config, Igp::Isis, node);
    let found = adj
        .iter()
        .any(|x| ctx.inst.node(x.neighbor.node).name == id);
    if !found {
        if !present {
            return Ok(Outcome::Pass(format!(
                "There is no IS-IS neighbor {id}, as expected"
            )));
        }
        let why = match ctx.inst.node_by_name(&id) {
            Some(o) => why_no_adjacency(ctx, Igp::Isis, node, o.id),
            None => "no node has that name".into(),
        };
        return Ok(Outcome::Fail(format!(
            "No IS-IS neighbor with ID {id} ({why})"
        )));
    }
    if !present {
        return Ok(Outcome::Fail(format!(
            "Unexpected neighbor {id} in state Up"
        )));
    }
    if !want_state.is_empty() && want_state != "Up" {
        return Ok(Outcome::Fail(format!(
            "Neighbor {id} in unexpected state Up"
        )));
    }
    if !level.is_empty() && level != ISIS_LEVEL {
        return Ok(Outcome::Fail(format!(
            "Invalid IS-IS level for neighbor {id}: expected {level} found {ISIS_LEVEL}"
        )));
    }
    if !area.is_empty() && area != ISIS_AREA {
        return Ok(Outcome::Fail(format!(
            "Invalid IS-IS area for neighbor {id}: expected {area} found {ISIS_AREA}"
        )));
    }
    Ok(Outcome::Pass(format!("IS-IS neighbor {id} is Up")))
}

// ---------------------------------------------------------------- prefix checks

/// How one check narrows the paths of a prefix (netlab's `check_*`/`filter_*` functions).
enum Narrowed<T> {
    Paths(Vec<T>),
    /// The check raised an exception: the test fails with this message.
    Error(String),
    /// The check decided the whole test (`log.Result`): it passes with this message.
    Done(String),
}

type Check<'a, T> = (
    &'static str,
    &'static str,
    &'a dyn Fn(&[T], &Value, &str, &str) -> Narrowed<T>,
);

/// netlab's `_common.run_prefix_checks`: look the prefix up, then apply the requested
/// checks in the plugin's order, each narrowing the paths, with its messages.
fn run_prefix_checks<T: Clone>(
    pfx: &str,
    state: &str,
    data: Option<Vec<T>>,
    kwargs: &[(String, Value)],
    table: &str,
    checks: &[Check<T>],
) -> Outcome {
    let missing = state == "missing";
    let report = |msg: String, ok: bool| {
        if ok {
            Outcome::Pass(msg)
        } else {
            Outcome::Fail(msg)
        }
    };
    let Some(mut data) = data else {
        return report(format!("The prefix {pfx} is not in the {table}"), missing);
    };
    for (k, _) in kwargs {
        if !checks.iter().any(|(c, _, _)| c == k) {
            return Outcome::Fail(format!("Invalid prefix check {k}"));
        }
    }
    let mut checked: Vec<(&str, &Value)> = Vec::new();
    let mut params = String::new();
    for (k, label, f) in checks {
        let Some((_, value)) = kwargs.iter().find(|(x, _)| x == k) else {
            continue;
        };
        data = match f(&data, value, pfx, state) {
            Narrowed::Paths(p) => p,
            Narrowed::Error(e) => return Outcome::Fail(e),
            Narrowed::Done(m) => return Outcome::Pass(m),
        };
        checked.push((label, value));
        params = format!(
            " with {}",
            checked
                .iter()
                .map(|(l, v)| format!("{l}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        if data.is_empty() {
            return report(
                format!("There is no path to {pfx} in the {table}{params}"),
                missing,
            );
        } else if missing {
            return Outcome::Fail(format!(
                "The prefix {pfx}{params} should not be in the {table}"
            ));
        }
    }
    if missing {
        return Outcome::Fail(format!(
            "The prefix {pfx}{params} should not be in the {table}"
        ));
    }
    Outcome::Pass(format!("The prefix {pfx} is in the {table}{params}"))
}

/// An IGP route as FRR's route tables list it.
#[derive(Clone)]
struct IgpRoute {
    /// OSPF: `N`, `N IA` (v2) or `Intra-Area`, `Inter-Area` (v3).
    route_type: String,
    /// `None` for the router's own prefixes, whose cost the twin does not pin.
    cost: Option<u32>,
}

/// The prefixes `node` itself puts into `igp`: its loopback and the subnets of interfaces
/// that run the protocol.
fn own_igp_prefix(ctx: &Ctx, node: NodeId, igp: Igp, p: &Prefix) -> bool {
    let n = ctx.inst.node(node);
    let runs = match igp {
        Igp::Ospf => ctx.routing.config.ospf[node.index()].is_some(),
        Igp::Isis => ctx.routing.config.isis[node.index()].is_some(),
    };
    if !runs {
        return false;
    }
    let lo = [n.loopback.ipv4, n.loopback.ipv6]
        .into_iter()
        .flatten()
        .any(|a| a.subnet() == *p || Prefix::host(a.addr) == *p);
    lo || n.interfaces.iter().any(|i| {
        i.up && i.segment.is_some()
            && [i.ipv4, i.ipv6]
                .into_iter()
                .flatten()
                .any(|a| a.subnet() == *p)
    })
}

fn igp_routes(ctx: &Ctx, node: NodeId, igp: Igp, p: &Prefix, v3: bool) -> Option<Vec<IgpRoute>> {
    let mut out: Vec<IgpRoute> = ctx
        .routing
        .candidates(node, p)
        .iter()
        .filter_map(|r| {
            let t = match (r.protocol, igp, v3) {
                (Protocol::Ospf, Igp::Ospf, false) => "N",
                (Protocol::OspfInterArea, Igp::Ospf, false) => "N IA",
                (Protocol::Ospf, Igp::Ospf, true) => "Intra-Area",
                (Protocol::OspfInterArea, Igp::Ospf, true) => "Inter-Area",
                (Protocol::Isis, Igp::Isis, _) => "L2",
                _ => return None,
            };
            Some(IgpRoute {
                route_type: t.to_string(),
                cost: Some(r.metric),
            })
        })
        .collect();
    if out.is_empty() && own_igp_prefix(ctx, node, igp, p) {
        out.push(IgpRoute {
            route_type: if v3 { "Intra-Area" } else { "N" }.into(),
            cost: None,
        });
    }
    (!out.is_empty()).then_some(out)
}

fn ospf_prefix(ctx: &Ctx, node: NodeId, a: &Args, family: Family) -> R {
    let pfx = get_prefix(a.get("pfx").unwrap_or(&Value::None))?;
    let state = a.string("state", "present")?;
    let v3 = family == Family::Ipv6;
    let data = if pfx.family() == family {
        igp_routes(ctx, node, Igp::Ospf, &pfx, v3)
    } else {
        None
    };
    let cost_unknown = |d: &[IgpRoute]| d.iter().any(|r| r.cost.is_none());
    if a.extra.iter().any(|(k, _)| k == "cost") && data.as_deref().is_some_and(cost_unknown) {
        return Ok(Outcome::Skip(format!(
            "{pfx} is directly attached to {}; nettwin does not pin the cost FRR shows for its own prefixes",
            ctx.oper.node(node).name
        )));
    }
    let cost = |d: &[IgpRoute], v: &Value, _: &str, _: &str| {
        Narrowed::Paths(
            d.iter()
                .filter(|r| r.cost.is_some_and(|c| Value::Int(c as i64).py_eq(v)))
                .cloned()
                .collect(),
        )
    };
    let rt = |d: &[IgpRoute], v: &Value, _: &str, _: &str| {
        Narrowed::Paths(
            d.iter()
                .filter(|r| Value::Str(r.route_type.clone()).py_eq(v))
                .cloned()
                .collect(),
        )
    };
    let table = if v3 {
        "OSPFv3 topology"
    } else {
        "OSPF topology"
    };
    Ok(run_prefix_checks(
        &pfx.to_string(),
        &state,
        data,
        &a.extra,
        table,
        &[("cost", "cost", &cost), ("rt", "route type", &rt)],
    ))
}

fn isis_prefix(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let pfx = get_prefix(a.get("pfx").unwrap_or(&Value::None))?;
    let level = match a.get("level") {
        None => "2".to_string(),
        Some(v) => v.to_string(),
    };
    let af = a.string("af", "ipv4")?;
    let present = a.flag("present", true);
    let family = if af == "ipv6" {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    // The twin runs level 2 only: a level-1 table is empty.
    let data = if level == "2" && pfx.family() == family {
        igp_routes(ctx, node, Igp::Isis, &pfx, false)
    } else {
        None
    };
    let Some(data) = data else {
        let msg = format!("{af} prefix {pfx} is not in level-{level} IS-IS database");
        return Ok(if present {
            Outcome::Fail(msg)
        } else {
            Outcome::Pass(msg)
        });
    };
    if !present {
        return Ok(Outcome::Fail(format!(
            "{af} prefix {pfx} should not be in level-{level} IS-IS database"
        )));
    }
    if let Some(cost) = a.get("cost").filter(|v| **v != Value::None) {
        match data[0].cost {
            None => {
                return Ok(Outcome::Skip(format!(
                    "{pfx} is directly attached; nettwin does not pin the metric FRR shows for its own prefixes"
                )))
            }
            Some(c) if !Value::Int(c as i64).py_eq(cost) => {
                return Ok(Outcome::Fail(format!(
                    "Invalid cost for prefix {pfx}: expected {cost} found {c}"
                )))
            }
            Some(_) => {}
        }
    }
    Ok(Outcome::Pass(format!(
        "{af} prefix {pfx} is in level-{level} IS-IS database"
    )))
}

// ---------------------------------------------------------------- BGP

fn bgp_neighbor(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let af = a.string("af", "ipv4")?;
    let n_id = a.string("n_id", "")?;
    let activate = a.string("activate", "")?;
    let state = a.get("state").cloned().unwrap_or(Value::str("Established"));
    if !["ipv4", "ipv6"].contains(&af.as_str()) {
        return Ok(Outcome::Skip(format!(
            "address family {af}: nettwin models IPv4 and IPv6 unicast only"
        )));
    }
    if !activate.is_empty() && activate != af {
        return Ok(Outcome::Skip(format!(
            "address family {activate} over {af} sessions is not modelled"
        )));
    }
    let Some(Value::List(ngb)) = a.get("ngb") else {
        return Err("the first argument of bgp_neighbor must be a list of BGP neighbors".into());
    };
    // _common.get_bgp_neighbor_id
    let n_addr = ngb
        .iter()
        .filter_map(|n| match n {
            Value::Dict(d) => Some(d),
            _ => None,
        })
        .filter(|d| d.get("name").and_then(Value::as_str) == Some(n_id.as_str()))
        .find_map(|d| d.get(&af).cloned())
        .ok_or_else(|| format!("Cannot find the {af} address of the neighbor {n_id}"))?;
    let n_addr = match &n_addr {
        Value::Str(s) => s.clone(),
        // An unnumbered neighbour (`ipv4: True`) is found by its interface.
        _ => a.string("intf", "")?,
    };
    let act_err = if activate.is_empty() {
        String::new()
    } else {
        format!(" in address family {activate}")
    };
    let node = match vrf_instance(ctx, node, a)? {
        Ok(i) => i,
        // netlab's EOS plugin (`check_vrf_data`).
        Err(vrf) => {
            return Ok(Outcome::Fail(format!(
                "There are no BGP peers in VRF {vrf}"
            )))
        }
    };
    let peers = match &ctx.routing.node(node).bgp {
        Some(b) => &b.peers,
        None => {
            return Ok(Outcome::Fail(format!(
                "There are no BGP peers in address family {af}"
            )))
        }
    };
    let peer = peers
        .iter()
        .find(|p| p.remote_address.to_string() == n_addr);
    let Some(peer) = peer else {
        let msg =
            format!("The router has no BGP neighbor with {af} address {n_addr} ({n_id}){act_err}");
        return Ok(if state == Value::str("missing") {
            Outcome::Pass(msg)
        } else {
            Outcome::Fail(msg)
        });
    };
    let actual = match (&peer.down_reason, peer.established) {
        (_, true) => "Established",
        (Some(r), false) if r.contains("administratively") => "Idle (Admin)",
        _ => "Active",
    };
    let ok = state.contains(&Value::str(actual)).unwrap_or(false);
    if !ok {
        let why = peer
            .down_reason
            .as_ref()
            .map(|r| format!("; {r}"))
            .unwrap_or_default();
        return Ok(Outcome::Fail(format!(
            "The neighbor {n_addr} ({n_id}) {act_err} is in state {actual} (expected {state}){why}"
        )));
    }
    Ok(Outcome::Pass(format!(
        "Neighbor {n_addr} ({n_id}) is in state {actual}"
    )))
}

/// One path of `show bgp ipv4 PREFIX json`, the fields netlab's checks read.
#[derive(Clone)]
struct BgpRec {
    peer_router_id: String,
    next_hops: Vec<String>,
    best: bool,
    cluster_list: Vec<String>,
    communities: String,
    aspath: String,
    as_list: Vec<u32>,
    local_pref: u32,
    med: Option<u32>,
}

fn bgp_record(ctx: &Ctx, node: NodeId, p: &BgpPath) -> BgpRec {
    let local = p.from.is_none();
    let own_rid = ctx
        .routing
        .node(node)
        .bgp
        .as_ref()
        .and_then(|b| b.router_id)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let nh = if local {
        match p.prefix.family() {
            Family::Ipv4 => "0.0.0.0".to_string(),
            Family::Ipv6 => "::".to_string(),
        }
    } else {
        p.attrs.next_hop.to_string()
    };
    BgpRec {
        peer_router_id: if local { own_rid } else { p.peer_router_id }.to_string(),
        next_hops: vec![nh],
        best: p.best,
        cluster_list: p.attrs.cluster_list.iter().map(|c| c.to_string()).collect(),
        communities: p
            .attrs
            .communities
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        aspath: p
            .attrs
            .as_path
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        as_list: p.attrs.as_path.clone(),
        local_pref: p.attrs.local_pref,
        med: p.attrs.med.or(local.then_some(0)),
    }
}

fn bgp_prefix(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let pfx = get_prefix(a.get("pfx").unwrap_or(&Value::None))?;
    let af = a.string("af", "ipv4")?;
    let state = a.string("state", "present")?;
    let family = match af.as_str() {
        "ipv4" => Family::Ipv4,
        "ipv6" => Family::Ipv6,
        other => {
            return Ok(Outcome::Skip(format!(
                "address family {other}: nettwin models IPv4 and IPv6 unicast only"
            )))
        }
    };
    let node = match vrf_instance(ctx, node, a)? {
        Ok(i) => i,
        // netlab's EOS plugin (`check_vrf_data`).
        Err(vrf) => {
            return Ok(Outcome::Fail(format!(
                "There are no BGP route entries in VRF {vrf}"
            )))
        }
    };
    let paths = if pfx.family() == family {
        ctx.routing.bgp_paths(node, &pfx)
    } else {
        Vec::new()
    };
    let data: Option<Vec<BgpRec>> =
        (!paths.is_empty()).then(|| paths.iter().map(|p| bgp_record(ctx, node, p)).collect());
    // Large and extended communities cannot be set in a lab nettwin loads: say so rather
    // than fail.
    if let Some((_, Value::Dict(c))) = a.extra.iter().find(|(k, _)| k == "community") {
        if let Some(k) = c
            .keys()
            .find(|k| ["largeCommunity", "extendedCommunity"].contains(&k.as_str()))
        {
            return Ok(Outcome::Skip(format!(
                "{k}: nettwin models standard communities only"
            )));
        }
    }
    let peer = |d: &[BgpRec], v: &Value, _: &str, _: &str| {
        Narrowed::Paths(
            d.iter()
                .filter(|p| Value::Str(p.peer_router_id.clone()).py_eq(v))
                .cloned()
                .collect(),
        )
    };
    let nh = |d: &[BgpRec], v: &Value, pfx: &str, state: &str| {
        let want = v.to_string();
        let want = want.split('/').next().unwrap_or_default().to_string();
        let found: Vec<String> = d.iter().flat_map(|p| p.next_hops.clone()).collect();
        let r: Vec<BgpRec> = d
            .iter()
            .filter(|p| p.next_hops.contains(&want))
            .cloned()
            .collect();
        if r.is_empty() && state != "missing" {
            return Narrowed::Error(format!(
                "The next hop(s) for prefix {pfx} is/are {}, not {want}",
                found.join(",")
            ));
        }
        Narrowed::Paths(r)
    };
    let best = |d: &[BgpRec], v: &Value, _: &str, _: &str| {
        Narrowed::Paths(
            d.iter()
                .filter(|p| {
                    let overall = if p.best {
                        Value::Bool(true)
                    } else {
                        Value::None
                    };
                    overall.py_eq(v)
                })
                .cloned()
                .collect(),
        )
    };
    let cluster = |d: &[BgpRec], v: &Value, pfx: &str, state: &str| {
        let r: Vec<BgpRec> = d
            .iter()
            .filter(|p| {
                p.cluster_list
                    .iter()
                    .any(|c| Value::Str(c.clone()).py_eq(v))
            })
            .cloned()
            .collect();
        if r.is_empty() && state != "missing" {
            return Narrowed::Error(format!(
                "Cannot find cluster ID {v} in the paths of prefix {pfx}"
            ));
        }
        Narrowed::Paths(r)
    };
    let community = |d: &[BgpRec], v: &Value, pfx: &str, state: &str| {
        let Value::Dict(want) = v else {
            return Narrowed::Error("Community check expects a dictionary of communities".into());
        };
        let mut ok: Vec<&str> = Vec::new();
        for p in d {
            for (cname, cvalue) in want {
                if cname == "community" && !p.communities.is_empty() {
                    if let Value::Str(cv) = cvalue {
                        if p.communities.contains(cv.as_str()) {
                            ok.push(cname);
                        }
                    }
                }
            }
        }
        for (cname, cvalue) in want {
            if !["community", "largeCommunity", "extendedCommunity"].contains(&cname.as_str()) {
                return Narrowed::Error(format!(
                    "Invalid BGP community keyword {cname} (allowed: community,largeCommunity,extendedCommunity)"
                ));
            }
            let found = ok.contains(&cname.as_str());
            if state == "present" && !found {
                return Narrowed::Error(format!(
                    "{cname} community {cvalue} is not attached to {pfx}"
                ));
            }
            if state == "missing" && found {
                return Narrowed::Error(format!(
                    "{cname} {cvalue} should not be attached to {pfx}"
                ));
            }
        }
        Narrowed::Done(format!(
            "The prefix {pfx} contains the expected communities"
        ))
    };
    let as_elements = |d: &[BgpRec], v: &Value, pfx: &str, state: &str| {
        let want: Vec<Value> = match v {
            Value::List(l) => l.clone(),
            other => vec![other.clone()],
        };
        let mut found = Vec::new();
        let mut r = Vec::new();
        for p in d {
            let all = want
                .iter()
                .all(|w| p.as_list.iter().any(|a| Value::Int(*a as i64).py_eq(w)));
            if all {
                r.push(p.clone());
            } else {
                found.push(p.aspath.clone());
            }
        }
        if r.is_empty() && state != "missing" {
            return Narrowed::Error(format!(
                "No path to prefix {pfx} has {v} in AS-path (found {})",
                found.join(",")
            ));
        }
        Narrowed::Paths(r)
    };
    let aspath = |d: &[BgpRec], v: &Value, pfx: &str, state: &str| {
        let mut found = Vec::new();
        let mut r = Vec::new();
        for p in d {
            if Value::Str(p.aspath.clone()).py_eq(v) {
                r.push(p.clone());
            } else {
                found.push(p.aspath.clone());
            }
        }
        if r.is_empty() && state != "missing" {
            return Narrowed::Error(format!(
                "No path to prefix {pfx} has AS-path {v} (found {})",
                found.join(",")
            ));
        }
        Narrowed::Paths(r)
    };
    let locpref = |d: &[BgpRec], v: &Value, _: &str, _: &str| {
        Narrowed::Paths(
            d.iter()
                .filter(|p| Value::Int(p.local_pref as i64).py_eq(v))
                .cloned()
                .collect(),
        )
    };
    let med = |d: &[BgpRec], v: &Value, _: &str, _: &str| {
        Narrowed::Paths(
            d.iter()
                .filter(|p| {
                    p.med
                        .map(|m| Value::Int(m as i64))
                        .unwrap_or(Value::None)
                        .py_eq(v)
                })
                .cloned()
                .collect(),
        )
    };
    Ok(run_prefix_checks(
        &pfx.to_string(),
        &state,
        data,
        &a.extra,
        "BGP table",
        &[
            ("peer", "BGP router ID", &peer),
            ("nh", "BGP next hop", &nh),
            ("best", "best path", &best),
            ("clusterid", "RR cluster ID", &cluster),
            ("community", "BGP community", &community),
            ("as_elements", "AS numbers", &as_elements),
            ("aspath", "AS path", &aspath),
            ("locpref", "BGP local preference", &locpref),
            ("med", "BGP MED", &med),
        ],
    ))
}

// ---------------------------------------------------------------- routing tables

/// FRR's name for a route's protocol (`show ip route ospf`).
fn frr_proto(p: Protocol, family: Family) -> &'static str {
    match (p, family) {
        (Protocol::Connected, _) => "connected",
        (Protocol::Local, _) => "local",
        (Protocol::Static, _) => "static",
        (Protocol::Ospf | Protocol::OspfInterArea, Family::Ipv4) => "ospf",
        (Protocol::Ospf | Protocol::OspfInterArea, Family::Ipv6) => "ospf6",
        (Protocol::Isis, _) => "isis",
        (Protocol::Ebgp | Protocol::Ibgp, _) => "bgp",
    }
}

/// The routes for exactly `p` (installed first), limited to `proto` when given, as
/// `(protocol name, metric)`.
fn rt_entries(ctx: &Ctx, node: NodeId, p: &Prefix, proto: &str) -> Vec<(&'static str, u32)> {
    ctx.routing
        .candidates(node, p)
        .iter()
        .map(|r| (frr_proto(r.protocol, p.family()), r.metric))
        .filter(|(name, _)| proto.is_empty() || *name == proto)
        .collect()
}

fn rt_prefix(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let pfx = get_prefix(a.get("pfx").unwrap_or(&Value::None))?;
    let af = a.string("af", "ipv4")?;
    let state = a.string("state", "")?;
    let proto = match a.extra.iter().find(|(k, _)| k == "proto") {
        Some((_, Value::Str(s))) => s.clone(),
        _ => String::new(),
    };
    let family = if af == "ipv6" {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let entries = if pfx.family() == family {
        rt_entries(ctx, node, &pfx, &proto)
    } else {
        Vec::new()
    };
    let Some(first) = entries.first() else {
        let msg = format!("The prefix {pfx} is not in {af} routing table");
        return Ok(if state == "missing" {
            Outcome::Pass(msg)
        } else {
            Outcome::Fail(msg)
        });
    };
    let result = format!("Found prefix {pfx} in the {af} routing table");
    if let Some((_, m)) = a.extra.iter().find(|(k, _)| k == "metric") {
        return Ok(if Value::Int(first.1 as i64).py_eq(m) {
            Outcome::Pass(format!("{result} with metric={m}"))
        } else {
            Outcome::Fail(format!(
                "No prefix {pfx} in the {af} routing table has metric={m} (it has {})",
                first.1
            ))
        });
    }
    Ok(Outcome::Pass(result))
}

fn ipv6_route(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let pfx = match a.get("pfx") {
        Some(Value::Str(s)) => s.clone(),
        Some(v) => return Err(format!("Prefix {v} is not a string")),
        None => unreachable!("required"),
    };
    let proto = a.string("proto", "")?;
    let p = get_prefix(&Value::Str(pfx.clone()))?;
    let entries = if p.family() == Family::Ipv6 {
        rt_entries(ctx, node, &p, &proto)
    } else {
        Vec::new()
    };
    let Some(first) = entries.first() else {
        return Ok(Outcome::Fail(format!(
            "The prefix {pfx} is not in the routing table or not a {proto} route"
        )));
    };
    if let Some(cost) = a.get("cost").filter(|v| **v != Value::None) {
        if !Value::Int(first.1 as i64).py_eq(cost) {
            return Ok(Outcome::Fail(format!(
                "Invalid OSPF end-to-end cost for prefix {pfx}: expected {cost} actual {}",
                first.1
            )));
        }
    }
    Ok(Outcome::Pass(format!(
        "Prefix {pfx} is in the IPv6 routing table"
    )))
}

/// `ip route` lines of a node's FIB in Linux's form (`10.0.0.2 via 10.1.0.2 dev eth1`,
/// `default via ...`), the main table only (no local routes).
fn linux_routes(ctx: &Ctx, node: NodeId, family: Family) -> Vec<String> {
    let n = ctx.oper.node(node);
    ctx.routing
        .fib(node)
        .routes()
        .iter()
        .filter(|r| r.prefix.family() == family && r.protocol != Protocol::Local)
        .map(|r| {
            let mut line = if r.prefix.is_default() {
                "default".to_string()
            } else if r.prefix.len() == family.max_len() {
                r.prefix.network().to_string()
            } else {
                r.prefix.to_string()
            };
            if let Some(h) = r.next_hops().first() {
                if let Some(addr) = h.address {
                    line.push_str(&format!(" via {addr}"));
                }
                line.push_str(&format!(" dev {}", n.interfaces[h.interface as usize].name));
            }
            line
        })
        .collect()
}

fn linux_route(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let pfx = a.get("pfx").map(|v| v.to_string()).unwrap_or_default();
    let af = a.string("af", "ipv4")?;
    let intf = a.string("intf", "")?;
    let state = a.string("state", "")?;
    let family = if af == "ipv6" {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let dev = format!("dev {intf}");
    let hit = linux_routes(ctx, node, family)
        .iter()
        .any(|l| l.contains(&pfx) && (intf.is_empty() || l.contains(&dev)));
    let miss_msg = format!(
        "{af} route {pfx} is not in the routing table{}",
        if intf.is_empty() {
            String::new()
        } else {
            format!(" or does not point to {intf}")
        }
    );
    Ok(match (state == "missing", hit) {
        (true, false) => Outcome::Pass(miss_msg),
        (true, true) => Outcome::Fail(format!("{af} {pfx} should not be in the routing table")),
        (false, true) => Outcome::Pass(format!(
            "{af} route {pfx} {}",
            if intf.is_empty() {
                "is in the routing table".to_string()
            } else {
                format!("points to {intf}")
            }
        )),
        (false, false) => Outcome::Fail(miss_msg),
    })
}

fn default6(ctx: &Ctx, node: NodeId) -> R {
    let has = ctx
        .routing
        .fib(node)
        .routes()
        .iter()
        .any(|r| r.prefix.family() == Family::Ipv6 && r.prefix.is_default());
    Ok(if has {
        Outcome::Pass("IPv6 default route is present".into())
    } else {
        Outcome::Fail("IPv6 default route is missing".into())
    })
}

// ---------------------------------------------------------------- ping

/// The address a lab host name resolves to, as netlab's hosts file has it: the loopback, else
/// the first interface address, of the family asked for (IPv4 unless `af` says `ipv6`).
fn resolve(topo: &Topology, name: &str, af: &str) -> Option<IpAddr> {
    let n = topo.node_by_name(name)?;
    let pick = |fam: Family| {
        let get = |a: Option<IfAddr>| a.map(|a| a.addr);
        let lo = match fam {
            Family::Ipv4 => get(n.loopback.ipv4),
            Family::Ipv6 => get(n.loopback.ipv6),
        };
        lo.or_else(|| {
            n.interfaces.iter().find_map(|i| match fam {
                Family::Ipv4 => get(i.ipv4),
                Family::Ipv6 => get(i.ipv6),
            })
        })
    };
    match af {
        "ipv6" => pick(Family::Ipv6),
        "ipv4" => pick(Family::Ipv4),
        _ => pick(Family::Ipv4).or_else(|| pick(Family::Ipv6)),
    }
}

fn ping(ctx: &Ctx, node: NodeId, a: &Args) -> R {
    let host_v = a.get("host").cloned().unwrap_or(Value::None);
    let host = host_v.to_string();
    let host = host.split('/').next().unwrap_or_default().to_string();
    let af = a.string("af", "")?;
    let src = a.string("src", "")?;
    let src = src.split('/').next().unwrap_or_default().to_string();
    let expect = a.string("expect", "")?;
    let pkt_len = match a.get("pkt_len") {
        None | Some(Value::None) => None,
        Some(Value::Int(n)) if *n >= 0 => Some(*n as u32),
        Some(v) => return Err(format!("pkt_len must be a number, not {v}")),
    };
    let mut msg = format!(
        "Ping to {}",
        if af.is_empty() {
            String::new()
        } else {
            format!("{af} ")
        }
    );
    let dst = match host.parse::<IpAddr>() {
        Ok(ip) => {
            msg.push_str(&host);
            Some(ip)
        }
        Err(_) => {
            let ip = resolve(ctx.oper, &host, &af);
            msg.push_str(&host);
            if let Some(ip) = ip {
                msg.push_str(&format!(" ({ip})"));
            }
            ip
        }
    };
    if !src.is_empty() {
        msg.push_str(&format!(" from {src}"));
    }
    if let Some(l) = pkt_len {
        msg.push_str(&format!(" size {l}"));
    }
    let outcome = |delivered: bool, why: String| {
        if expect == "fail" {
            if delivered {
                Outcome::Fail(format!("{msg} did not fail"))
            } else {
                Outcome::Pass(format!("{msg} failed as expected ({why})"))
            }
        } else if delivered {
            Outcome::Pass(format!("{msg} succeeded"))
        } else {
            Outcome::Fail(format!("{msg} failed ({why})"))
        }
    };
    let Some(dst) = dst else {
        return Ok(outcome(false, format!("{host}: Name or service not known")));
    };
    if (af == "ipv4" && !dst.is_ipv4()) || (af == "ipv6" && !dst.is_ipv6()) {
        return Ok(outcome(false, format!("{dst} is not an {af} address")));
    }
    if ctx.oper.node(node).kind == NodeKind::Switch {
        return Ok(Outcome::Skip(format!(
            "{} is a bridge without IP addresses",
            ctx.oper.node(node).name
        )));
    }
    let net = Net::new(ctx.oper, ctx.routing);
    let src_ip = if src.is_empty() {
        match net.source_address(node, dst) {
            Some(s) => s,
            None => return Ok(outcome(false, "connect: Network is unreachable".into())),
        }
    } else {
        let Ok(ip) = src.parse::<IpAddr>() else {
            return Ok(outcome(false, format!("{src}: not an address")));
        };
        if ctx.oper.owner_of(ip).map(|(n, _)| n) != Some(node) {
            return Ok(outcome(
                false,
                format!("bind: {ip} is not an address of this node"),
            ));
        }
        ip
    };
    // Linux ping sends 56 bytes of data by default: IP header + ICMP header + payload.
    let overhead = if dst.is_ipv4() { 28 } else { 48 };
    let probe = |from: NodeId, s: IpAddr, d: IpAddr| Probe {
        from,
        src: s,
        dst: d,
        proto: Proto::Icmp,
        sport: 0,
        dport: 0,
        size: pkt_len.unwrap_or(56) + overhead,
        df: false,
        ttl: 64,
        flow_hash: true,
    };
    let there = nettwin_dataplane::trace(&net, &probe(node, src_ip, dst));
    let paths = there.paths();
    let Some((_, end)) = paths.first() else {
        return Ok(outcome(false, "no path".into()));
    };
    if !end.disposition.is_delivered() {
        return Ok(outcome(false, format!("{} at {}", end.disposition, end.at)));
    }
    let back = nettwin_dataplane::trace(&net, &probe(end.at_id, dst, src_ip));
    let back_paths = back.paths();
    match back_paths.first() {
        Some((_, e)) if e.disposition.is_delivered() => Ok(outcome(true, String::new())),
        Some((_, e)) => Ok(outcome(
            false,
            format!("the reply: {} at {}", e.disposition, e.at),
        )),
        None => Ok(outcome(false, "the reply has no path".into())),
    }
}
