//! URL groups: every operation. Each backend writes the endpoints themselves (`upsert_endpoints`,
//! `remove_endpoints`: Postgres binds arrays, SQLite runs a statement per endpoint) inside the transaction here.

macro_rules! url_group_store {
    () => {
        async fn url_group_upsert_endpoints(
            &self,
            name: &str,
            endpoints: &[(String, Option<String>)],
            now: i64,
        ) -> Result<()> {
            let mut tx = self.begin_write().await?;
            sqlx::query(URL_GROUP_TOUCH)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            upsert_endpoints(&mut tx, name, endpoints, now).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn url_group_remove_endpoints(
            &self,
            name: &str,
            removed: &EndpointSelection,
            now: i64,
        ) -> Result<Option<()>> {
            let mut tx = self.begin_write().await?;
            let touched = sqlx::query(URL_GROUP_MARK_UPDATED)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if touched.rows_affected() == 0 {
                return Ok(None);
            }
            remove_endpoints(&mut tx, name, &removed.urls, &removed.names).await?;
            sqlx::query(URL_GROUP_DELETE_IF_EMPTY)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(()))
        }

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
            Ok(assemble_groups(vec![group], endpoints)?.pop())
        }

        async fn url_group_list(&self) -> Result<Vec<UrlGroup>> {
            let groups = sqlx::query_as(URL_GROUP_LIST).fetch_all(self.reads()).await?;
            let endpoints = sqlx::query_as(URL_GROUP_ENDPOINTS)
                .bind(None::<String>)
                .fetch_all(self.reads())
                .await?;
            assemble_groups(groups, endpoints)
        }

        async fn url_group_set_headers(
            &self,
            name: &str,
            headers: &crate::domain::headers::HeaderMap,
            now: i64,
        ) -> Result<bool> {
            let column = (!headers.is_empty()).then(|| crate::domain::headers::to_json(headers));
            let done = sqlx::query(URL_GROUP_SET_HEADERS)
                .bind(name)
                .bind(column)
                .bind(now)
                .execute(self.writes())
                .await?;
            Ok(done.rows_affected() == 1)
        }

        $crate::store::shared::binds_in_order! {
            url_group_delete(name: &str) -> bool = URL_GROUP_DELETE;
        }
    };
}

pub(in crate::store) use url_group_store;
