//! URL groups: reading and deleting (adding and removing endpoints differ: Postgres binds arrays).

macro_rules! url_group_store {
    () => {
        async fn url_group_get(&self, name: &str) -> Result<Option<UrlGroup>> {
            let Some(group) = sqlx::query_as::<_, UrlGroupRow>(URL_GROUP_GET)
                .bind(name)
                .fetch_optional(self.reads())
                .await?
            else {
                return Ok(None);
            };
            let endpoints = sqlx::query_as(URL_GROUP_ENDPOINTS)
                .bind(name)
                .fetch_all(self.reads())
                .await?;
            Ok(assemble_groups(vec![group], endpoints).pop())
        }

        async fn url_group_list(&self) -> Result<Vec<UrlGroup>> {
            let groups = sqlx::query_as(URL_GROUP_LIST).fetch_all(self.reads()).await?;
            let endpoints = sqlx::query_as(URL_GROUP_ENDPOINTS)
                .bind(None::<String>)
                .fetch_all(self.reads())
                .await?;
            Ok(assemble_groups(groups, endpoints))
        }

        async fn url_group_delete(&self, name: &str) -> Result<bool> {
            let done = sqlx::query(URL_GROUP_DELETE)
                .bind(name)
                .execute(self.writes())
                .await?;
            Ok(done.rows_affected() == 1)
        }
    };
}

pub(in crate::store) use url_group_store;
