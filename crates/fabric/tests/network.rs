//! Collectives costed on the links: volumes per algorithm, oversubscription and ECMP.

use nettwin_fabric::net::{expected_max_load, Collective, Costing, Fabric, Group, LinkClass};
use nettwin_fabric::*;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-30)
}

/// SplitMix64, the seeded generator for the Monte Carlo oracle.
struct SplitMix64(u64);
impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn total(fab: &Fabric, traffic: &[f64], classes: &[LinkClass]) -> f64 {
    traffic
        .iter()
        .enumerate()
        .filter(|(l, _)| classes.contains(&fab.class(*l)))
        .map(|(_, b)| b)
        .sum()
}

fn node8() -> Cluster {
    Cluster::new(gpu_preset("h100").unwrap(), 8, 1)
}

#[test]
fn collective_volumes_per_algorithm() {
    let c = node8();
    let fab = Fabric::new(&c);
    let members: Vec<u32> = (0..8).collect();
    let s = 1.0e9;
    let n = 8.0;
    let up = [LinkClass::NvlinkUp, LinkClass::NicUp];
    for (op, algo, per_gpu) in [
        (
            Collective::AllReduce,
            Algorithm::Ring,
            2.0 * (n - 1.0) / n * s,
        ),
        // Double binary tree: every edge carries S/2 up and S/2 down in each of two trees:
        // 2 trees x (n-1) edges x 2 directions x S/2 = 2(n-1) S over the group.
        (
            Collective::AllReduce,
            Algorithm::Tree,
            2.0 * (n - 1.0) / n * s,
        ),
        (
            Collective::ReduceScatter,
            Algorithm::Ring,
            (n - 1.0) / n * s,
        ),
        (Collective::AllGather, Algorithm::Ring, (n - 1.0) / n * s),
        (Collective::AllToAll, Algorithm::Ring, (n - 1.0) / n * s),
    ] {
        let mut cost = Costing::new(&fab, true);
        let g = [Group {
            members: &members,
            bytes: s,
        }];
        cost.phase(op, algo, &g, 1.0);
        let tr = cost.traffic.take().unwrap();
        assert!(
            close(total(&fab, &tr, &up), n * per_gpu, 1e-12),
            "{op:?} {algo:?}"
        );
    }
    let pair = [0u32, 5];
    let mut cost = Costing::new(&fab, true);
    cost.phase(
        Collective::PointToPoint,
        Algorithm::Ring,
        &[Group {
            members: &pair,
            bytes: s,
        }],
        3.0,
    );
    let tr = cost.traffic.take().unwrap();
    assert_eq!(total(&fab, &tr, &up), 3.0 * s);
}

#[test]
fn ring_time_is_bottleneck_bytes_over_bandwidth_plus_steps() {
    let c = node8();
    let fab = Fabric::new(&c);
    let members: Vec<u32> = (0..8).collect();
    let s = 1.0e9;
    let mut cost = Costing::new(&fab, false);
    let t = cost.phase(
        Collective::AllReduce,
        Algorithm::Ring,
        &[Group {
            members: &members,
            bytes: s,
        }],
        1.0,
    );
    let bw = 450e9 * 0.8;
    let expect = 2.0 * 7.0 / 8.0 * s / bw + 14.0 * (0.5e-6 + 3.0e-6);
    assert!(close(t.time_s, expect, 1e-12), "{} {expect}", t.time_s);
    // Tree: same bandwidth term here, 2 log2(n) steps instead of 2(n-1).
    let tree = cost.phase(
        Collective::AllReduce,
        Algorithm::Tree,
        &[Group {
            members: &members,
            bytes: s,
        }],
        1.0,
    );
    assert!(tree.time_s > 0.0);
    let small = [Group {
        members: &members,
        bytes: 1e3,
    }];
    let r = cost.phase(Collective::AllReduce, Algorithm::Ring, &small, 1.0);
    let tr = cost.phase(Collective::AllReduce, Algorithm::Tree, &small, 1.0);
    assert!(tr.time_s < r.time_s, "tree wins on small messages");
    let auto = cost.phase(Collective::AllReduce, Algorithm::Auto, &small, 1.0);
    assert_eq!(auto.time_s, tr.time_s);
}

#[test]
fn oversubscription_slows_cross_leaf_traffic() {
    // Fat tree, one node of 4 GPUs per leaf, 4:1 oversubscribed: four GPUs sending across the
    // spine share one NIC's worth of uplink.
    let mut c = Cluster::new(gpu_preset("h100").unwrap(), 4, 2);
    c.shape = FabricShape::FatTree;
    c.nodes_per_leaf = 1;
    c.oversubscription = 4.0;
    c.spine_links_per_leaf = 4;
    c.ecmp = Ecmp::Ideal;
    let fab = Fabric::new(&c);
    let pairs: Vec<u32> = vec![0, 4, 1, 5, 2, 6, 3, 7];
    let groups: Vec<Group> = pairs
        .chunks(2)
        .map(|g| Group {
            members: g,
            bytes: 1e9,
        })
        .collect();
    let mut cost = Costing::new(&fab, false);
    let t = cost.phase(Collective::PointToPoint, Algorithm::Ring, &groups, 1.0);
    let nic = 400e9 / 8.0 * 0.9;
    let lat = 4.0 * 1e-6 + 3e-6;
    assert!(close(t.time_ideal_s, 4.0 * 1e9 / nic + lat, 1e-12));
    // Per-flow hashing of 4 flows over 4 uplinks: the fullest link carries E[max] flows.
    // Oracle: enumerate all 4^4 hash outcomes.
    let mut sum = 0.0;
    for code in 0..256u32 {
        let mut bins = [0u32; 4];
        for f in 0..4 {
            bins[((code >> (2 * f)) & 3) as usize] += 1;
        }
        sum += *bins.iter().max().unwrap() as f64;
    }
    let emax = sum / 256.0;
    assert!(close(expected_max_load(4, 4), emax, 1e-12));
    assert!(close(
        t.time_expected_s,
        emax * 1e9 / (nic / 4.0) + lat,
        1e-9
    ));
    // Worst case: all four flows on one of the four uplinks.
    assert!(close(t.time_worst_s, 4.0 * 1e9 / (nic / 4.0) + lat, 1e-12));
}

#[test]
fn expected_max_load_exact_and_monte_carlo() {
    assert_eq!(expected_max_load(1, 8), 1.0);
    assert!(close(expected_max_load(2, 2), 1.5, 1e-12));
    // 3 balls, 3 bins: all same 3/27 -> 3, all different 6/27 -> 1, otherwise 2.
    assert!(close(
        expected_max_load(3, 3),
        (9.0 + 6.0 + 36.0) / 27.0,
        1e-12
    ));
    let mut rng = SplitMix64(7);
    for (k, s) in [(16u32, 8u32), (64, 16), (100, 32)] {
        let trials = 20000;
        let mut acc = 0u64;
        for _ in 0..trials {
            let mut bins = vec![0u32; s as usize];
            for _ in 0..k {
                bins[(rng.next() % s as u64) as usize] += 1;
            }
            acc += *bins.iter().max().unwrap() as u64;
        }
        let mc = acc as f64 / trials as f64;
        assert!(
            close(expected_max_load(k, s), mc, 0.02),
            "k={k} s={s}: {} vs {mc}",
            expected_max_load(k, s)
        );
    }
}

#[test]
fn rail_optimized_keeps_same_rail_traffic_off_the_spine() {
    // 64 nodes, 32 per leaf: two units. Rank 0 -> rank 8 (node 1, same rail) stays on the rail
    // leaf; rank 0 -> rank 8*32 (other unit) crosses the spine; rank 0 -> rank 9 uses PXN.
    let c = Cluster::new(gpu_preset("h100").unwrap(), 8, 64);
    let fab = Fabric::new(&c);
    let classes = |a: u32, b: u32| {
        let mut p = Vec::new();
        fab.route(a, b, &mut p);
        p.iter().map(|&l| fab.class(l as usize)).collect::<Vec<_>>()
    };
    assert_eq!(classes(0, 8), vec![LinkClass::NicUp, LinkClass::NicDown]);
    assert_eq!(
        classes(0, 256),
        vec![
            LinkClass::NicUp,
            LinkClass::LeafToSpine,
            LinkClass::SpineToLeaf,
            LinkClass::NicDown
        ]
    );
    assert_eq!(
        classes(0, 9),
        vec![
            LinkClass::NvlinkUp,
            LinkClass::NvlinkDown,
            LinkClass::NicUp,
            LinkClass::NicDown
        ]
    );
    assert_eq!(
        classes(0, 3),
        vec![LinkClass::NvlinkUp, LinkClass::NvlinkDown]
    );
}

#[test]
fn ecmp_collisions_show_in_step_time_sensitivity() {
    // Pipeline stages in different leaf units: their sends cross the spine.
    let (job, mut cluster, plan) = worked::example_c_dense().unwrap();
    cluster.oversubscription = 2.0;
    let r = evaluate(&job, &cluster, &plan).unwrap();
    assert!(r.ecmp.ideal_s <= r.ecmp.expected_s && r.ecmp.expected_s <= r.ecmp.worst_s);
    assert!(r.ecmp.worst_s > r.ecmp.ideal_s);
    let spine = r
        .placement
        .groups
        .iter()
        .find(|g| g.kind == "pipeline")
        .unwrap();
    assert!(spine.links.contains(&LinkClass::LeafToSpine));
}
