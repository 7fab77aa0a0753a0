//! Where ndeploy's deployments go: `NDEPLOY_DIR`, or the notes' default under the home.

use std::path::PathBuf;

use super::env::Env;
use super::ConfigError;

/// `NDEPLOY_DIR`, or the notes' `~/.ndeploy/<namespace>` when unset (the namespace is the
/// prefix and `ndeploy`, each character other than letters, digits, `.`, `_` and `-` made a
/// `-`: `switchyard:` gives `switchyard-ndeploy`), created when missing.
pub fn deploy_dir<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    redis_prefix: &str,
) -> Result<PathBuf, ConfigError> {
    let given = env.parsed("NDEPLOY_DIR", "a directory", |v| Some(PathBuf::from(v)))?;
    let dir = match given {
        Some(dir) => dir,
        None => {
            let home = (env.0)("HOME").filter(|home| !home.trim().is_empty());
            let home = home.ok_or_else(|| {
                let expected = "set: it defaults to ~/.ndeploy/<namespace>, and HOME is unset";
                ConfigError::new("NDEPLOY_DIR", String::new(), expected.into())
            })?;
            let namespace: String = format!("{redis_prefix}ndeploy")
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
                    _ => '-',
                })
                .collect();
            PathBuf::from(home).join(".ndeploy").join(namespace)
        }
    };
    std::fs::create_dir_all(&dir).map_err(|err| {
        let expected = format!("a directory this process can create or use ({err})");
        ConfigError::new("NDEPLOY_DIR", dir.display().to_string(), expected.into())
    })?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_for(home: Option<&str>, given: Option<&str>) -> Result<PathBuf, ConfigError> {
        let (home, given) = (home.map(str::to_owned), given.map(str::to_owned));
        let env = Env(move |name: &str| match name {
            "HOME" => home.clone(),
            "NDEPLOY_DIR" => given.clone(),
            _ => None,
        });
        deploy_dir(&env, "demo:")
    }

    #[test]
    fn unset_it_is_the_notes_directory_under_the_home_created() {
        let home = std::env::temp_dir().join(format!("ndeploy-home-{}", std::process::id()));
        let made = dir_for(Some(&home.to_string_lossy()), None).unwrap();
        assert_eq!(made, home.join(".ndeploy/demo-ndeploy"));
        assert!(made.is_dir());
        let given = home.join("elsewhere/deeper");
        let made = dir_for(None, Some(&given.to_string_lossy())).unwrap();
        assert_eq!(made, given);
        assert!(made.is_dir());
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn a_directory_that_cannot_be_made_or_no_home_is_an_error_naming_the_variable() {
        let error = dir_for(None, None).unwrap_err().to_string();
        assert!(
            error.contains("NDEPLOY_DIR") && error.contains("HOME"),
            "{error}"
        );
        let file = std::env::temp_dir().join(format!("ndeploy-file-{}", std::process::id()));
        std::fs::write(&file, "").unwrap();
        let under_a_file = file.join("deploys");
        let error = dir_for(None, Some(&under_a_file.to_string_lossy()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("NDEPLOY_DIR"), "{error}");
        std::fs::remove_file(&file).unwrap();
    }
}
