//! The static catalogue: regions, droplet sizes, images and database options, consistent with what the create calls accept.

use serde::Serialize;
use std::net::Ipv4Addr;

/// A datacenter region.
#[derive(Debug, Serialize)]
pub struct Region {
    /// The slug, e.g. `nyc3`.
    pub slug: &'static str,
    /// The display name, e.g. `New York 3`.
    pub name: &'static str,
    /// The droplet size slugs offered here.
    pub sizes: &'static [&'static str],
    /// What the region supports; `storage` means block storage volumes.
    pub features: &'static [&'static str],
    /// Whether new resources can be created here.
    pub available: bool,
    /// Public /16 blocks that droplet and reserved IP addresses are drawn from.
    #[serde(skip)]
    pub public_blocks: &'static [[u8; 2]],
    /// The second octet of the region's default VPC, `10.<n>.0.0/20`.
    #[serde(skip)]
    pub vpc_octet: u8,
}

/// A droplet size.
#[derive(Debug, Serialize)]
pub struct Size {
    /// The slug, e.g. `s-1vcpu-1gb`.
    pub slug: &'static str,
    /// Memory in MB.
    pub memory: u32,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Disk in GB.
    pub disk: u32,
    /// Monthly transfer allowance in TB.
    pub transfer: f64,
    /// Monthly price in USD.
    pub price_monthly: f64,
    /// Hourly price in USD.
    pub price_hourly: f64,
    /// The regions that offer this size.
    pub regions: &'static [&'static str],
    /// Whether droplets of this size can be created.
    pub available: bool,
    /// The size class, e.g. `Basic`.
    pub description: &'static str,
}

/// A public base image.
#[derive(Debug, Serialize)]
pub struct Image {
    /// The numeric id.
    pub id: u64,
    /// The slug, e.g. `ubuntu-24-04-x64`.
    pub slug: &'static str,
    /// The display name, e.g. `24.04 (LTS) x64`.
    pub name: &'static str,
    /// The distribution, e.g. `Ubuntu`.
    pub distribution: &'static str,
    /// Always `base` for these images.
    #[serde(rename = "type")]
    pub image_type: &'static str,
    /// Always true for these images.
    pub public: bool,
    /// The regions the image is offered in.
    pub regions: &'static [&'static str],
    /// The smallest disk, in GB, a droplet needs for this image.
    pub min_disk_size: u32,
    /// The image's size in GB.
    pub size_gigabytes: f64,
    /// When the image was published.
    pub created_at: &'static str,
    /// A description.
    pub description: &'static str,
    /// Always `available`.
    pub status: &'static str,
}

/// A database cluster node size.
#[derive(Debug, Serialize)]
pub struct DatabaseSize {
    /// The slug, e.g. `db-s-1vcpu-1gb`.
    pub slug: &'static str,
    /// Memory in MB.
    pub memory: u32,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Storage in MiB, the default `storage_size_mib`.
    pub storage_size_mib: u64,
}

/// A database engine with the versions dosim accepts for it.
#[derive(Debug, Serialize)]
pub struct DatabaseEngine {
    /// The engine slug as the API uses it, e.g. `pg`.
    pub slug: &'static str,
    /// The accepted versions, oldest first.
    pub versions: &'static [&'static str],
    /// The version used when the request names none.
    pub default_version: &'static str,
    /// The URI scheme of connection strings.
    #[serde(skip)]
    pub scheme: &'static str,
    /// The port of the primary connection.
    pub port: u16,
    /// The administrative user created with the cluster.
    pub admin_user: &'static str,
    /// The database created with the cluster, if the engine has databases.
    pub default_db: Option<&'static str>,
}

const FEATURES: &[&str] = &[
    "backups",
    "ipv6",
    "metadata",
    "install_agent",
    "storage",
    "image_transfer",
];

const ALL_REGIONS: &[&str] = &[
    "nyc1", "nyc3", "sfo2", "sfo3", "ams3", "fra1", "lon1", "sgp1", "tor1", "blr1", "syd1",
];

const BASIC_SIZES: &[&str] = &[
    "s-1vcpu-512mb-10gb",
    "s-1vcpu-1gb",
    "s-1vcpu-2gb",
    "s-2vcpu-2gb",
    "s-2vcpu-4gb",
    "s-4vcpu-8gb",
    "s-8vcpu-16gb",
    "c-2",
    "g-2vcpu-8gb",
];

macro_rules! region {
    ($slug:literal, $name:literal, $blocks:expr, $vpc:literal) => {
        Region {
            slug: $slug,
            name: $name,
            sizes: BASIC_SIZES,
            features: FEATURES,
            available: true,
            public_blocks: $blocks,
            vpc_octet: $vpc,
        }
    };
}

static REGIONS: &[Region] = &[
    region!("nyc1", "New York 1", &[[104, 131], [159, 203]], 116),
    region!("nyc3", "New York 3", &[[138, 197], [45, 55]], 108),
    region!("sfo2", "San Francisco 2", &[[138, 68], [159, 65]], 120),
    region!("sfo3", "San Francisco 3", &[[137, 184], [143, 198]], 124),
    region!("ams3", "Amsterdam 3", &[[188, 166], [178, 62]], 110),
    region!("fra1", "Frankfurt 1", &[[46, 101], [164, 90]], 114),
    region!("lon1", "London 1", &[[178, 128], [206, 189]], 106),
    region!("sgp1", "Singapore 1", &[[128, 199], [159, 223]], 104),
    region!("tor1", "Toronto 1", &[[159, 89], [165, 227]], 118),
    region!("blr1", "Bangalore 1", &[[139, 59], [143, 110]], 122),
    region!("syd1", "Sydney 1", &[[170, 64], [209, 38]], 126),
];

macro_rules! size {
    ($slug:literal, $mem:literal, $vcpus:literal, $disk:literal, $transfer:literal, $monthly:literal, $hourly:literal, $desc:literal) => {
        Size {
            slug: $slug,
            memory: $mem,
            vcpus: $vcpus,
            disk: $disk,
            transfer: $transfer,
            price_monthly: $monthly,
            price_hourly: $hourly,
            regions: ALL_REGIONS,
            available: true,
            description: $desc,
        }
    };
}

static SIZES: &[Size] = &[
    size!("s-1vcpu-512mb-10gb", 512, 1, 10, 0.5, 4.0, 0.00595, "Basic"),
    size!("s-1vcpu-1gb", 1024, 1, 25, 1.0, 6.0, 0.00893, "Basic"),
    size!("s-1vcpu-2gb", 2048, 1, 50, 2.0, 12.0, 0.01786, "Basic"),
    size!("s-2vcpu-2gb", 2048, 2, 60, 3.0, 18.0, 0.02679, "Basic"),
    size!("s-2vcpu-4gb", 4096, 2, 80, 4.0, 24.0, 0.03571, "Basic"),
    size!("s-4vcpu-8gb", 8192, 4, 160, 5.0, 48.0, 0.07143, "Basic"),
    size!("s-8vcpu-16gb", 16384, 8, 320, 6.0, 96.0, 0.14286, "Basic"),
    size!("c-2", 4096, 2, 25, 4.0, 42.0, 0.0625, "CPU-Optimized"),
    size!(
        "g-2vcpu-8gb",
        8192,
        2,
        25,
        4.0,
        63.0,
        0.09375,
        "General Purpose"
    ),
];

macro_rules! image {
    ($id:literal, $slug:literal, $name:literal, $dist:literal, $min_disk:literal, $gb:literal, $created:literal) => {
        Image {
            id: $id,
            slug: $slug,
            name: $name,
            distribution: $dist,
            image_type: "base",
            public: true,
            regions: ALL_REGIONS,
            min_disk_size: $min_disk,
            size_gigabytes: $gb,
            created_at: $created,
            description: concat!($dist, " ", $name),
            status: "available",
        }
    };
}

static IMAGES: &[Image] = &[
    image!(
        129211873,
        "ubuntu-22-04-x64",
        "22.04 (LTS) x64",
        "Ubuntu",
        7,
        2.36,
        "2023-03-24T18:39:05Z"
    ),
    image!(
        160232537,
        "ubuntu-24-04-x64",
        "24.04 (LTS) x64",
        "Ubuntu",
        7,
        2.44,
        "2024-09-06T16:12:49Z"
    ),
    image!(
        150591457,
        "debian-12-x64",
        "12 x64",
        "Debian",
        7,
        0.99,
        "2024-02-23T21:04:11Z"
    ),
    image!(
        163473213,
        "fedora-40-x64",
        "40 x64",
        "Fedora",
        7,
        1.24,
        "2024-10-01T19:30:27Z"
    ),
    image!(
        161224373,
        "rockylinux-9-x64",
        "9 x64",
        "Rocky Linux",
        10,
        1.07,
        "2024-09-17T14:48:56Z"
    ),
    image!(
        162830514,
        "centos-stream-9-x64",
        "Stream 9 x64",
        "CentOS",
        10,
        1.17,
        "2024-09-26T10:22:44Z"
    ),
];

static DATABASE_SIZES: &[DatabaseSize] = &[
    DatabaseSize {
        slug: "db-s-1vcpu-1gb",
        memory: 1024,
        vcpus: 1,
        storage_size_mib: 10_240,
    },
    DatabaseSize {
        slug: "db-s-1vcpu-2gb",
        memory: 2048,
        vcpus: 1,
        storage_size_mib: 25_600,
    },
    DatabaseSize {
        slug: "db-s-2vcpu-4gb",
        memory: 4096,
        vcpus: 2,
        storage_size_mib: 38_912,
    },
    DatabaseSize {
        slug: "db-s-4vcpu-8gb",
        memory: 8192,
        vcpus: 4,
        storage_size_mib: 117_760,
    },
    DatabaseSize {
        slug: "db-s-6vcpu-16gb",
        memory: 16384,
        vcpus: 6,
        storage_size_mib: 276_480,
    },
];

static DATABASE_ENGINES: &[DatabaseEngine] = &[
    DatabaseEngine {
        slug: "pg",
        versions: &["13", "14", "15", "16", "17"],
        default_version: "17",
        scheme: "postgresql",
        port: 25060,
        admin_user: "doadmin",
        default_db: Some("defaultdb"),
    },
    DatabaseEngine {
        slug: "mysql",
        versions: &["8"],
        default_version: "8",
        scheme: "mysql",
        port: 25060,
        admin_user: "doadmin",
        default_db: Some("defaultdb"),
    },
    DatabaseEngine {
        slug: "valkey",
        versions: &["8"],
        default_version: "8",
        scheme: "rediss",
        port: 25061,
        admin_user: "default",
        default_db: None,
    },
    DatabaseEngine {
        slug: "mongodb",
        versions: &["6.0", "7.0", "8.0"],
        default_version: "8.0",
        scheme: "mongodb+srv",
        port: 27017,
        admin_user: "doadmin",
        default_db: Some("admin"),
    },
    DatabaseEngine {
        slug: "kafka",
        versions: &["3.7", "3.8"],
        default_version: "3.8",
        scheme: "kafka",
        port: 25073,
        admin_user: "doadmin",
        default_db: None,
    },
    DatabaseEngine {
        slug: "opensearch",
        versions: &["2"],
        default_version: "2",
        scheme: "https",
        port: 25060,
        admin_user: "doadmin",
        default_db: None,
    },
];

/// Every region, in DigitalOcean's list order.
pub fn regions() -> &'static [Region] {
    REGIONS
}

/// Every droplet size, smallest first.
pub fn sizes() -> &'static [Size] {
    SIZES
}

/// Every public base image.
pub fn images() -> &'static [Image] {
    IMAGES
}

/// Every database node size, smallest first.
pub fn database_sizes() -> &'static [DatabaseSize] {
    DATABASE_SIZES
}

/// Every database engine dosim accepts.
pub fn database_engines() -> &'static [DatabaseEngine] {
    DATABASE_ENGINES
}

/// The region with `slug`.
pub fn region(slug: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.slug == slug)
}

/// The droplet size with `slug`.
pub fn size(slug: &str) -> Option<&'static Size> {
    SIZES.iter().find(|s| s.slug == slug)
}

/// The image with `slug`.
pub fn image_by_slug(slug: &str) -> Option<&'static Image> {
    IMAGES.iter().find(|i| i.slug == slug)
}

/// The image with numeric `id`.
pub fn image_by_id(id: u64) -> Option<&'static Image> {
    IMAGES.iter().find(|i| i.id == id)
}

/// The database node size with `slug`.
pub fn database_size(slug: &str) -> Option<&'static DatabaseSize> {
    DATABASE_SIZES.iter().find(|s| s.slug == slug)
}

/// The database engine with `slug`.
pub fn database_engine(slug: &str) -> Option<&'static DatabaseEngine> {
    DATABASE_ENGINES.iter().find(|e| e.slug == slug)
}

impl Region {
    /// Whether `addr` lies in one of this region's public blocks.
    pub fn owns(&self, addr: Ipv4Addr) -> bool {
        let o = addr.octets();
        self.public_blocks
            .iter()
            .any(|b| b[0] == o[0] && b[1] == o[1])
    }
}
